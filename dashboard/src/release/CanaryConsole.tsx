import { useEffect, useState } from 'preact/hooks';
import { enc, get, post } from '../api/client.js';
import type { ChangeRequest, Flag } from '../api/types.js';
import { Guard } from '../components/Guard.js';
import type { FlagActions } from '../flag/actions.js';
import { audienceText, duration, GUARD_MIN_EXPOSURES, percent, rollbackText, stepText, stoppedText, waitingText, type MetricPoint } from '../logic/canary.js';
import { absoluteTime } from '../logic/time.js';
import { useApp, useCanEdit, useLive, useResource } from '../state.js';
import { UNREACHABLE_REASON, useReachable } from './hooks.js';
import { MetricsChart } from './MetricsChart.js';
import { PlanForm } from './PlanForm.js';
import { GovernedNotice, useBypass } from '../requests/GovernedNotice.js';
import type { PlanView, ReleasePlan } from './types.js';

const REFRESH_MS = 2000;

function stepClass(plan: { status: string; currentStep: number; startedAt: string | null }, i: number): string {
  if (i < plan.currentStep) return 'done';
  if (i !== plan.currentStep || !plan.startedAt) return '';
  if (plan.status === 'rolled_back' || plan.status === 'aborted') return 'failed';
  return plan.status === 'completed' ? 'done' : 'current';
}
const STATUS_TEXT: Record<string, string> = { ready: 'Ready', running: 'Running', paused: 'Paused', completed: 'Completed', rolled_back: 'Rolled back', aborted: 'Aborted' };

/**
 * The canary console: in plain words first — where the plan is ("Step 2 of 4: 25% until 14:05"),
 * what it waits for, why it stopped, who gets what now — then the step timeline and the controls;
 * the statistics (counts, rates, the decision rule, charts) behind a "Statistics" toggle, and the
 * decision log. Refreshes every few seconds while a plan runs. In a critical environment, starting,
 * resuming, skipping a step and aborting ask first, like every other change there for real users.
 */
export function CanaryConsole({ flag, environment, actions }: { flag: Flag; environment: string; actions: FlagActions }) {
  const base = `/api/flags/${enc(flag.key)}/environments/${enc(environment)}/release-plan`;
  const view = useResource(() => get<PlanView>(base), [base]);
  const metrics = useResource(() => get<{ points: MetricPoint[] }>(`${base}/metrics`), [base]);
  const rights = useCanEdit(flag);
  const reachable = useReachable();
  const canEdit = rights.canEdit && reachable;
  const reason = rights.reason ?? (reachable ? undefined : UNREACHABLE_REASON);
  const env = useApp().environments.find((e) => e.key === environment);
  const envName = env?.name ?? environment;
  const [editing, setEditing] = useState(false);
  // Where an approval policy governs the environment, Start and Resume open a change request instead.
  const bypass = useBypass();
  const policy = actions.policy?.environment === environment ? actions.policy : undefined;
  const plan = view.data?.plan ?? null;
  const active = plan?.status === 'running' || plan?.status === 'paused';
  const stopped = plan?.status === 'rolled_back' || plan?.status === 'aborted';

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
  const { events } = view.data;
  const config = flag.environments[environment];
  const act = (name: string, done: string) => () =>
    void actions.run(done, () => post(`${base}/${name}`, {})).then(() => Promise.all([view.reload(), metrics.reload()]));
  /**
   * Start or resume where a policy governs the environment: a change request pinned to the plan's
   * and the flag's versions (an admin bypassing approvals applies it at once, giving a reason).
   */
  const request = (name: 'start' | 'resume', reason: string | undefined) => () =>
    void actions
      .propose(
        (r) => `Change request #${r.id} opened: ${name} the release plan of ${flag.name} in ${envName}. Nothing changes until it has ${r.approvalsNeeded} approval${r.approvalsNeeded === 1 ? '' : 's'} and is applied.`,
        () => post<ChangeRequest>(`${base}/${name}?changeRequest=true`, { version: flag.version, planVersion: plan?.version }),
        reason,
      )
      .then((result) => {
        if (result.ok) bypass.reset();
        return Promise.all([view.reload(), metrics.reload()]);
      });
  /** Critical environments ask first when the action changes what real users get. */
  const confirmed = (name: string, done: string, ask: { title: string; body: string; confirmLabel: string; danger?: boolean }) => () => {
    let run = act(name, done);
    if (name === 'start' || name === 'resume') {
      const decision = bypass.decide(policy);
      if (!decision) return;
      // A change request changes nothing yet: it is reviewed before it applies, so no confirmation.
      if (decision.mode === 'request') return request(name, undefined)();
      if (decision.mode === 'bypass') run = request(name, decision.reason);
    }
    if (!env?.critical) return run();
    actions.confirm({
      title: ask.title,
      body: (
        <p>
          <strong>{envName}</strong> is a critical environment. {ask.body}
        </p>
      ),
      confirmLabel: ask.confirmLabel,
      danger: ask.danger,
      onConfirm: run,
    });
  };
  const button = (label: string, onClick: () => void, danger = false, describedBy?: string) => (
    <Guard reason={reason}>
      <button type="button" class={danger ? 'button danger' : 'button'} disabled={!canEdit || actions.busy} aria-describedby={describedBy} onClick={onClick}>
        {label}
      </button>
    </Guard>
  );

  const governed = policy !== undefined && !bypass.bypass.on;
  const steps = plan?.spec.steps ?? [];
  const next = plan ? steps[plan.currentStep + 1] : undefined;
  // As the server starts it: a plan never ramps down, so a flag already at 20% starts at the first step of at least 20%.
  const already = config?.stage.endsWith('%') ? Number(config.stage.slice(0, -1)) : 0;
  const firstStep = steps.find((s) => s.percentage >= already) ?? steps[steps.length - 1];
  const variation = plan?.variation ?? 'the new variation';
  const start = confirmed('start', 'Release plan started.', {
    title: `Start the canary of ${flag.name} in ${envName}?`,
    body: `Real users start getting the new variation right away (${firstStep ? `${firstStep.percentage}% first` : 'the first step'}), then more as ${plan?.spec.guard ? 'the guard finds it healthy' : 'each step’s time passes'}.`,
    confirmLabel: 'Start canary',
  });
  const current = plan ? steps[plan.currentStep] : undefined;
  const resume = confirmed('resume', 'Release plan resumed.', {
    title: `Resume the canary of ${flag.name} in ${envName}?`,
    body: `The plan carries on at ${current ? `${current.percentage}%` : 'its step'}: if the flag was moved meanwhile, it goes back there for real users right away.`,
    confirmLabel: 'Resume canary',
  });
  const skip = confirmed('skip', 'Moved to the next step.', {
    title: `Move ${flag.name} to the next step in ${envName} now?`,
    body: next ? `${next.percentage}% of real users get ${variation} right away, whatever the step’s time and exposures.` : 'The plan completes at its last step right away.',
    confirmLabel: 'Next step now',
  });
  const abort = confirmed('abort', 'Release plan aborted; back to dogfood.', {
    title: `Abort the canary of ${flag.name} in ${envName}?`,
    body: 'It rolls back to Dogfood right away: only internal users keep the new variation; everyone else gets the off value.',
    confirmLabel: 'Abort & roll back',
    danger: true,
  });

  return (
    <section class="card canary" aria-labelledby="canary-title">
      <h2 id="canary-title">Canary console</h2>
      {plan ? (
        <>
          <p class="canary-status" data-testid="canary-status">
            <span class={`badge plan-${plan.status}`}>{STATUS_TEXT[plan.status]}</span>{' '}
            <strong>{stopped ? (config ? stoppedText(plan.status as 'rolled_back' | 'aborted', config) : STATUS_TEXT[plan.status]) : stepText(plan, Date.now())}</strong>
          </p>
          <Detail plan={plan} view={view.data} />
        </>
      ) : (
        <p class="hint">No release plan in this environment yet.</p>
      )}
      {/* A stopped plan's headline already says who gets what now. */}
      {config && !stopped && (
        <p class="canary-split">
          <span class="hint">Now:</span> {audienceText(config)}
          {view.data.guarded && (
            <>
              {' '}
              <span class="badge stage-rollout" title="SDKs count exposures and errors of this flag while the guard watches it">
                guarded
              </span>
            </>
          )}
        </p>
      )}
      {plan && (
        <ol class="timeline" aria-label="Steps">
          {steps.map((s, i) => (
            <li key={i} class={stepClass(plan, i)} aria-current={i === plan.currentStep && plan.startedAt ? 'step' : undefined}>
              {s.percentage}%<span class="small"> · {duration(s.minDurationMs)}{s.minExposures ? ` · ${s.minExposures} exp.` : ''}</span>
            </li>
          ))}
        </ol>
      )}
      {plan && (!active || plan.status === 'paused') && (
        <GovernedNotice id="canary" policy={policy} envName={envName} what={`${flag.name}: the plan ${active ? 'resumes' : 'starts'} when the request is approved and applied`} state={bypass} disabled={!canEdit} />
      )}
      <div class="actions">
        {plan && !active && button(`${governed ? 'Request start' : plan.status === 'ready' ? 'Start' : 'Start again'}`, start, false, governed ? 'canary-notice' : undefined)}
        {plan?.status === 'running' && button('Pause', act('pause', 'Release plan paused.'))}
        {plan?.status === 'paused' && button(governed ? 'Request resume' : 'Resume', resume, false, governed ? 'canary-notice' : undefined)}
        {active && button('Next step now', skip)}
        {active && button('Abort & roll back', abort, true)}
        {!active && (
          <Guard reason={rights.reason}>
            <button type="button" class="button" disabled={!rights.canEdit} aria-expanded={editing} onClick={() => setEditing(!editing)}>
              {plan ? 'Edit plan' : 'Create plan'}
            </button>
          </Guard>
        )}
      </div>
      {editing && !active && (
        // Keyed by the plan's version: a plan saved meanwhile (here or elsewhere) prefills afresh.
        <PlanForm key={plan ? `${plan.id}:${plan.version}` : 'new'} flagKey={flag.key} environment={environment} actions={actions} saved={plan?.spec} onSaved={() => (setEditing(false), void view.reload())} />
      )}
      {plan?.spec.guard && plan.startedAt && (
        <details class="canary-stats">
          <summary>Statistics</summary>
          <Statistics plan={plan} view={view.data} />
          {metrics.data && <MetricsChart points={metrics.data.points} errorEvent={plan.spec.guard.errorEvent} collecting={plan.status === 'running'} />}
        </details>
      )}
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

/** The second line: what a running plan waits for, why a paused one stopped, why the guard rolled back. */
function Detail({ plan, view }: { plan: ReleasePlan; view: PlanView }) {
  let text: string | undefined;
  if (plan.status === 'running') text = plan.spec.guard ? waitingText(plan, view.evidence) : 'A rolling release has no guard: this flag does not collect exposures.';
  else if (plan.status === 'paused') text = plan.pauseReason ?? undefined;
  else if (plan.status === 'rolled_back') text = rollbackText(view.events.find((e) => e.kind === 'rolled_back')?.evidence ?? view.evidence);
  else if (plan.status === 'aborted') {
    const by = view.events.find((e) => e.kind === 'aborted')?.actor;
    text = by ? `Aborted by ${by}.` : undefined;
  }
  return text ? <p class="canary-detail">{text}</p> : null;
}

/** Counts, rates, the decision rule's thresholds and where the statistic stands. */
function Statistics({ plan, view }: { plan: ReleasePlan; view: PlanView }) {
  const guard = plan.spec.guard!;
  const e = view.evidence?.errors;
  const step = plan.spec.steps[plan.currentStep];
  const minimum = guard.minExposures ?? GUARD_MIN_EXPOSURES;
  return (
    <div class="small evidence">
      <p>
        Decision rule: roll back when the new variation’s “{guard.errorEvent}” rate is credibly above {Number((1 + guard.minRelativeIncrease).toFixed(3))}× everyone else’s (false
        rollback risk α = {guard.alpha}); no decision before {minimum} exposures per variation.
      </p>
      {e && (
        <p>
          New variation {e.treatment.errors}/{e.treatment.exposures} errors ({percent(e.treatment.rate)}) · everyone else {e.control.errors}/{e.control.exposures} ({percent(e.control.rate)}) ·
          log Λ {e.logLikelihoodRatio.toFixed(2)} / {e.boundary.toFixed(2)} · {e.verdict.replace('_', ' ')}
        </p>
      )}
      {step && view.evidence && plan.status === 'running' && (
        <p>
          This step: {view.evidence.stepExposures} exposures of {plan.variation} (needs {step.minExposures})
        </p>
      )}
    </div>
  );
}
