import { enc, post } from '../api/client.js';
import type { Environment, Flag, FlagEnvironment } from '../api/types.js';
import { Guard } from '../components/Guard.js';
import { useCanEdit } from '../state.js';
import type { FlagActions } from './actions.js';

/** The red button: off for everyone immediately, from any stage, always confirmed. */
export function KillSwitch({ flag, config, environment, actions }: { flag: Flag; config: FlagEnvironment; environment: Environment | undefined; actions: FlagActions }) {
  const { canEdit, reason } = useCanEdit(flag, { emergency: true });
  const killed = config.stage === 'kill';
  const envName = environment?.name ?? 'this environment';
  const kill = () =>
    actions.confirm({
      title: `Kill ${flag.name} in ${envName}?`,
      body: <p>Everyone gets the off value immediately, including dogfood users. You can release it again from any stage afterwards.</p>,
      confirmLabel: 'Kill now',
      danger: true,
      onConfirm: () => void actions.run(`${flag.name} was killed in ${envName}.`, () => post<Flag>(`/api/flags/${enc(flag.key)}/environments/${enc(environment?.key ?? '')}/kill`, {})),
    });
  return (
    <div class="kill">
      <Guard reason={reason ?? (killed ? 'Already killed: choose a stage above to release again' : undefined)}>
        <button type="button" class="button danger kill-button" disabled={!canEdit || killed || actions.busy} onClick={kill}>
          <span aria-hidden="true">✕ </span>
          {killed ? 'Killed' : 'Kill switch'}
        </button>
      </Guard>
      <span class="hint">{killed ? 'This flag is killed: everyone gets the off value.' : 'Turns the flag off for everyone, right now.'}</span>
    </div>
  );
}
