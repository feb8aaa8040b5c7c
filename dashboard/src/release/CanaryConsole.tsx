import { useEffect, useState } from 'preact/hooks';
import { enc, get, post } from '../api/client.js';
import type { Flag } from '../api/types.js';
import { Guard } from '../components/Guard.js';
import type { FlagActions } from '../flag/actions.js';
import { duration, percent, splitText, type MetricPoint } from '../logic/canary.js';
import { absoluteTime } from '../logic/time.js';
import { useCanEdit, useLive, useResource } from '../state.js';
import { MetricsChart } from './MetricsChart.js';
import { PlanForm } from './PlanForm.js';
import type { PlanView } from './types.js';

const REFRESH_MS = 2000;

function stepClass(plan: { status: string; currentStep: number; startedAt: string | null }, i: number): string {
  if (i < plan.currentStep) return 'done';
  if (i !== plan.currentStep || !plan.startedAt) return '';
  if (plan.status === 'rolled_back' || plan.status === 'aborted') return 'failed';
  return plan.status === 'completed' ? 'done' : 'current';
}
const STATUS_TEXT: Record<string, string> = { ready: 'Ready', running: 'Running', paused: 'Paused', completed: 'Completed', rolled_back: 'Rolled back', aborted: 'Aborted' };

/**
 * The canary console: live split, exposures and error rate per variation over time, the step
 * timeline, the decision log, and the controls. Refreshes every few seconds while a plan runs.
 */
export function CanaryConsole({ flag, environment, actions }: { flag: Flag; environment: string; actions: FlagActions }) {
  const base = `/api/flags/${enc(flag.key)}/environments/${enc(environment)}/release-plan`;
  const view = useResource(() => get<PlanView>(base), [base]);
  const metrics = useResource(() => get<{ points: MetricPoint[] }>(`${base}/metrics`), [base]);
  const { canEdit, reason } = useCanEdit(flag);
  const [editing, setEditing] = useState(false);
  const plan = view.data?.plan ?? null;
  const active = plan?.status === 'running' || plan?.status === 'paused';

  useLive((e) => {
    if (e.type === 'flag' && e.key === flag.key) void view.reload();
  });
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => {
      void view.reload();
      void metrics.reload();
    }, REFRESH_MS);
    return () => clearInterval(timer);
  }, [active, view.reload, metrics.reload]);

  if (!view.data) return null;
  const { split, evidence, events } = view.data;
  const act = (name: string, label: string, body: unknown = {}) => () =>
    void actions.run(label, () => post(`${base}/${name}`, body)).then(() => Promise.all([view.reload(), metrics.reload()]));
  const button = (name: string, label: string, done: string, danger = false, body: unknown = {}) => (
    <Guard reason={reason}>
      <button type="button" class={danger ? 'button danger' : 'button'} disabled={!canEdit || actions.busy} onClick={act(name, done, body)}>
        {label}
      </button>
    </Guard>
  );
  const e = evidence?.errors;

  return (
    <section class="card canary" aria-labelledby="canary-title">
      <h2 id="canary-title">Canary console</h2>
      <p class="canary-split">
        <strong>{splitText(split)}</strong>
        {/* The split is the default rule's only: after a rollback dogfood users still have the flag. */}
        <span class="hint"> · everyone else; the flag is at {view.data.stageSummary}</span> {view.data.guarded && <span class="badge stage-rollout">guarded</span>}{' '}
        {plan && <span class={`badge plan-${plan.status}`}>{STATUS_TEXT[plan.status]}</span>}
      </p>
      {plan?.pauseReason && <p class="hint">{plan.pauseReason}</p>}
      {plan ? (
        <ol class="timeline" aria-label="Steps">
          {plan.spec.steps.map((s, i) => (
            <li key={i} class={stepClass(plan, i)} aria-current={i === plan.currentStep && plan.startedAt ? 'step' : undefined}>
              {s.percentage}%<span class="small"> · {duration(s.minDurationMs)}{s.minExposures ? ` · ${s.minExposures} exp.` : ''}</span>
            </li>
          ))}
        </ol>
      ) : (
        <p class="hint">No release plan in this environment yet.</p>
      )}
      {e && (
        <p class="small evidence">
          New variation {e.treatment.errors}/{e.treatment.exposures} errors ({percent(e.treatment.rate)}) · control {e.control.errors}/{e.control.exposures} ({percent(e.control.rate)}) · log Λ{' '}
          {e.logLikelihoodRatio.toFixed(2)} / {e.boundary.toFixed(2)} · {e.verdict.replace('_', ' ')}
        </p>
      )}
      <div class="actions">
        {plan && !active && button('start', plan.status === 'ready' ? 'Start' : 'Start again', 'Release plan started.')}
        {plan?.status === 'running' && button('pause', 'Pause', 'Release plan paused.')}
        {plan?.status === 'paused' && button('resume', 'Resume', 'Release plan resumed.')}
        {active && button('skip', 'Next step now', 'Moved to the next step.')}
        {active && button('abort', 'Abort & roll back', 'Release plan aborted; back to dogfood.', true)}
        {!active && (
          <button type="button" class="button" disabled={!canEdit} onClick={() => setEditing(!editing)}>
            {plan ? 'Edit plan' : 'Create plan'}
          </button>
        )}
      </div>
      {editing && !active && <PlanForm flagKey={flag.key} environment={environment} actions={actions} onSaved={() => (setEditing(false), void view.reload())} />}
      {metrics.data && <MetricsChart points={metrics.data.points} errorEvent={plan?.spec.guard?.errorEvent ?? 'error'} />}
      <details class="decision-log" open={active}>
        <summary>Decision log ({events.length})</summary>
        <ul class="history">
          {events.map((ev) => (
            <li key={ev.id}>
              <span class="small">{absoluteTime(ev.at)}</span> <strong>{ev.kind.replace('_', ' ')}</strong> · {ev.actor} — {ev.message}
            </li>
          ))}
        </ul>
      </details>
    </section>
  );
}
