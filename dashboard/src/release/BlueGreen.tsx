import { enc, post } from '../api/client.js';
import type { Flag, FlagEnvironment } from '../api/types.js';
import { Guard } from '../components/Guard.js';
import type { FlagActions } from '../flag/actions.js';
import { useCanEdit } from '../state.js';

/** Blue/green for two-variation flags: which side is live, and a one-click atomic switch. */
export function BlueGreen({ flag, config, environment, actions }: { flag: Flag; config: FlagEnvironment; environment: string; actions: FlagActions }) {
  const { canEdit, reason } = useCanEdit(flag);
  if (flag.variations.length !== 2 || flag.type === 'boolean') return null;
  const serve = config.defaultServe as { variation?: string };
  const live = config.on && serve.variation ? serve.variation : config.offVariation;
  const other = flag.variations.find((v) => v.key !== live)?.key ?? live;
  const switchTo = () =>
    actions.confirm({
      title: `Switch ${flag.name} to ${other}?`,
      body: <p>All traffic moves to {other} at once. Switching back is just as instant.</p>,
      confirmLabel: `Switch to ${other}`,
      onConfirm: () => void actions.run(`${other} is live.`, () => post<{ flag: Flag }>(`/api/flags/${enc(flag.key)}/environments/${enc(environment)}/switch`, { to: other }).then((r) => r.flag)),
    });
  return (
    <section class="card blue-green" aria-labelledby="bg-title">
      <h2 id="bg-title">Blue/green</h2>
      <div class="bg-sides">
        {flag.variations.map((v) => (
          <div key={v.key} class={v.key === live ? 'bg-side bg-live' : 'bg-side'} aria-current={v.key === live ? 'true' : undefined}>
            <strong>{v.key}</strong> {v.key === live ? <span class="badge stage-full">live · 100%</span> : <span class="hint">idle</span>}
          </div>
        ))}
      </div>
      <Guard reason={reason}>
        <button type="button" class="button primary" disabled={!canEdit || actions.busy} onClick={switchTo}>
          Switch to {other}
        </button>
      </Guard>
    </section>
  );
}
