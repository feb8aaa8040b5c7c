import { Component } from 'preact';
import type { Environment, FlagEnvironmentSummary, ReleasePlanSummary } from '../api/types.js';
import { StageBadge } from '../components/StageBadge.js';
import { LifecycleBadge } from './LifecycleBadge.js';
import type { ListEntry } from '../logic/flag-list.js';
import { Link } from '../router.js';
import { absoluteTime, relativeTime } from '../logic/time.js';

const STRATEGY_NAMES: Record<ReleasePlanSummary['strategy'], string> = { guarded: 'Canary', rolling: 'Rolling release' };

/** "▶ Canary" / "⏸ Canary paused": a release plan under way in this environment. */
export function PlanMarker({ plan, environment }: { plan: ReleasePlanSummary; environment: string }) {
  const name = STRATEGY_NAMES[plan.strategy];
  const [icon, state] = plan.status === 'rolled_back' ? ['↩', 'rolled back'] : plan.status === 'paused' ? ['⏸', 'paused'] : ['▶', 'running'];
  return (
    <span class={`list-marker plan-${plan.status}`} data-plan={plan.status} title={`${name} ${state} in ${environment}`}>
      <span aria-hidden="true">{icon}</span> {name}
      {state === 'running' ? '' : ` ${state}`}
    </span>
  );
}

function EnvironmentCell({ environment, config, selected }: { environment: Environment; config: FlagEnvironmentSummary | undefined; selected: boolean }) {
  return (
    <td data-label={environment.name} data-env={environment.key} class={selected ? 'env-cell env-selected' : 'env-cell'}>
      {config ? <StageBadge stage={config.stage} summary={config.stageSummary} /> : <span class="hint">not set up</span>}
      {config?.releasePlan && <PlanMarker plan={config.releasePlan} environment={environment.name} />}
      {config && <LastEvaluated at={config.lastEvaluatedAt ?? null} environment={environment.name} selected={selected} />}
    </td>
  );
}

/** When SDKs last evaluated the flag here (evaluation insights); "never" only in the selected column, to keep the list calm. */
function LastEvaluated({ at, environment, selected }: { at: number | null; environment: string; selected: boolean }) {
  if (at === null) return selected ? <div class="small hint last-evaluated" data-last-evaluated="never">not evaluated</div> : null;
  return (
    <div class="small hint last-evaluated" data-last-evaluated={at} title={`Last evaluated in ${environment}: ${absoluteTime(at)}`}>
      evaluated {relativeTime(at)}
    </div>
  );
}

export interface FlagRowProps {
  entry: ListEntry;
  environments: Environment[];
  /** The selected environment's key: its column is highlighted. */
  selected: string;
}

/**
 * One flag, its stage in every environment side by side. Redrawn only when its entry is replaced
 * (a live change re-reads one summary) or the columns change: a keystroke that only filters or
 * reorders the list re-renders no row it keeps.
 */
export class FlagRow extends Component<FlagRowProps> {
  override shouldComponentUpdate(next: FlagRowProps): boolean {
    return next.entry !== this.props.entry || next.environments !== this.props.environments || next.selected !== this.props.selected;
  }

  override render() {
    const { entry, environments, selected } = this.props;
    const f = entry.summary;
    const updatedAt = Date.parse(f.updatedAt);
    return (
      <tr data-flag={f.key} data-version={f.version}>
        <td data-label="Flag">
          <Link href={`/flags/${encodeURIComponent(f.key)}`} class="flag-link">
            {f.name}
          </Link>
          <div class="mono small">{f.key}</div>
          {f.lifecycle && <LifecycleBadge lifecycle={f.lifecycle} />}
          {f.managedBy && (
            <span class="badge badge-git small" title={`Managed by Git (${f.managedBy})`}>
              <span aria-hidden="true">⎇</span> Git
            </span>
          )}
          {f.clientVisible && (
            <span class="badge badge-client small" title="Visible to client keys: browsers and mobile apps receive its evaluated value">
              <span aria-hidden="true">◫</span> Client-visible
            </span>
          )}
        </td>
        {environments.map((env) => (
          <EnvironmentCell key={env.key} environment={env} config={f.environments[env.key]} selected={env.key === selected} />
        ))}
        <td data-label="Tags and owner">
          {f.tags.map((t) => (
            <span key={t} class="tag">
              {t}
            </span>
          ))}
          {f.owner && <div class="small owner">{f.owner}</div>}
        </td>
        <td data-label="Last change">
          <span title={absoluteTime(updatedAt)}>
            {f.updatedBy || 'unknown'} · {relativeTime(updatedAt)}
          </span>
        </td>
      </tr>
    );
  }
}
