import { useRef, useState } from 'preact/hooks';
import { enc, post } from '../api/client.js';
import type { ChangeRequest, Environment, Flag, FlagEnvironment } from '../api/types.js';
import { ChangeComment } from '../components/ChangeComment.js';
import { Guard } from '../components/Guard.js';
import { stageLabel } from '../components/StageBadge.js';
import { describeStage, parsePercentage, STEPS, stepStates } from '../logic/stages.js';
import { GovernedNotice, useBypass } from '../requests/GovernedNotice.js';
import { UNREACHABLE_REASON, useActivePlan, useReachable } from '../release/hooks.js';
import { useCanEdit } from '../state.js';
import type { FlagActions } from './actions.js';

interface Props {
  flag: Flag;
  config: FlagEnvironment;
  environment: Environment | undefined;
  actions: FlagActions;
}

/**
 * Off → Dogfood → 10% → 50% → 100%: one click per stage; critical environments ask first, and so
 * does any environment where a canary runs (moving the flag by hand pauses it). Disabled, saying
 * why, while the server cannot be reached.
 *
 * The current stage and, while a write runs, every stage are `aria-disabled` rather than
 * `disabled`: a disabled button loses focus (Chromium drops it to <body>), so the button just
 * pressed would, and a keyboard user would start over from the top. After a move, focus goes to
 * the new stage's button when it was on the stepper (or had been dropped). Viewers and an
 * unreachable server still get real `disabled` buttons: nothing there to act on.
 */
export function Stepper({ flag, config, environment, actions }: Props) {
  const rights = useCanEdit(flag);
  const reachable = useReachable();
  const canEdit = rights.canEdit && reachable;
  const reason = rights.reason ?? (reachable ? undefined : UNREACHABLE_REASON);
  const plan = useActivePlan(flag.key, environment?.key, flag.version);
  // Until the summary is read, the guard marker says a guarded canary is under way here.
  const canaryRunning = plan === undefined ? Boolean(config.guarded) : plan?.status === 'running';
  const canaryPaused = plan?.status === 'paused';
  const [custom, setCustom] = useState('');
  const [customError, setCustomError] = useState<string | undefined>(undefined);
  // Why, for the audit log: sent with the next stage change, then cleared.
  const [comment, setComment] = useState('');
  const states = stepStates(config.stage);
  const envName = environment?.name ?? 'this environment';
  const view = describeStage(config.stage);
  const current = stageLabel(config.stage, config.stageSummary);
  const stepsRef = useRef<HTMLOListElement>(null);
  // Where a policy governs the environment a stage move opens a change request (or, for an admin who gives a reason, bypasses it).
  const bypass = useBypass();

  /** The new stage's button takes focus, unless the person has moved on to something else. */
  const focusStep = (stage: string) => {
    const list = stepsRef.current;
    const active = document.activeElement;
    if (!list || (active && active !== document.body && !list.contains(active))) return;
    list.querySelector<HTMLButtonElement>(`.step-button[data-stage="${CSS.escape(stage)}"]`)?.focus();
  };

  const move = (stage: string) => {
    // aria-disabled buttons still click: nothing while a write runs.
    if (actions.busy) return;
    const label = describeStage(stage).label;
    const message = comment.trim();
    const decision = bypass.decide(actions.policy);
    if (!decision) return;
    const path = `/api/flags/${enc(flag.key)}/environments/${enc(environment?.key ?? '')}/stage`;
    const body = { stage, version: flag.version, ...(message ? { message } : {}) };
    const write = () =>
      decision.mode === 'direct'
        ? actions.run(`${flag.name} is now at ${label} in ${envName}.`, () => post<Flag>(path, body)).then((result) => {
            if (!result.ok) return;
            setComment('');
            focusStep(stage);
          })
        : actions
            .propose(
              (r) => `Change request #${r.id} opened: move ${flag.name} to ${label} in ${envName}. Nothing changes until it has ${r.approvalsNeeded} approval${r.approvalsNeeded === 1 ? '' : 's'} and is applied.`,
              () => post<ChangeRequest>(`${path}?changeRequest=true`, body),
              decision.mode === 'bypass' ? decision.reason : undefined,
            )
            .then((result) => {
              if (!result.ok) return;
              setComment('');
              bypass.reset();
            });
    // A change request changes nothing yet: it is reviewed before it applies, so no confirmation.
    if ((environment?.critical || canaryRunning) && decision.mode !== 'request') {
      actions.confirm({
        title: `Move to ${label} in ${envName}?`,
        body: (
          <>
            {canaryRunning && (
              <p class="canary-warning">
                <strong>This pauses the running canary on {envName}</strong>; resuming it from the canary console puts its step back.
              </p>
            )}
            <p>
              {environment?.critical && (
                <>
                  <strong>{envName}</strong> is a critical environment.{' '}
                </>
              )}
              {flag.name} goes from {current} to {label} {environment?.critical ? 'for real users ' : ''}right away.
              {view.kind === 'custom' && ' Its other rules and individual targets stay as they are.'}
              {canaryPaused && ` The paused canary on ${envName} stays paused; resuming it puts its step back.`}
              {message && <> Comment: “{message}”.</>}
            </p>
          </>
        ),
        confirmLabel: `Move to ${label}`,
        onConfirm: () => void write(),
      });
    } else {
      void write();
    }
  };

  const submitCustom = (e: Event) => {
    e.preventDefault();
    if (actions.busy) return;
    const parsed = parsePercentage(custom);
    if ('error' in parsed) {
      setCustomError(parsed.error);
      return;
    }
    setCustomError(undefined);
    move(parsed.stage);
  };

  return (
    <div class="stepper-wrap">
      <GovernedNotice id="stage" policy={actions.policy} envName={envName} state={bypass} disabled={!rights.canEdit} />
      {(view.kind === 'kill' || view.kind === 'custom' || (view.kind === 'rollout' && !STEPS.some((s) => s.stage === config.stage))) && (
        <p class="hint">
          Current stage: <strong>{current}</strong>
          {view.kind === 'custom' ? ' (targeting below)' : ''}. Choose a stage to {view.kind === 'kill' ? 'release again' : 'move to it'}
          {view.kind === 'custom' ? '; a stage sets the dogfood and default rules and keeps the others' : ''}.
        </p>
      )}
      <ol class="stepper" aria-label="Release stages" ref={stepsRef}>
        {STEPS.map((step, i) => {
          const state = states[i]!;
          return (
            <li key={step.stage} class={`step step-${state}`}>
              <Guard reason={reason}>
                <button
                  type="button"
                  class="step-button"
                  data-stage={step.stage}
                  aria-current={state === 'current' ? 'step' : undefined}
                  disabled={!canEdit}
                  aria-disabled={canEdit && (actions.busy || state === 'current') ? 'true' : undefined}
                  onClick={() => state !== 'current' && move(step.stage)}
                >
                  <span class="step-mark" aria-hidden="true">
                    {state === 'done' ? '✓' : state === 'current' ? '●' : i + 1}
                  </span>
                  <span>{step.label}</span>
                  {state === 'current' && <span class="visually-hidden"> (current stage)</span>}
                </button>
              </Guard>
            </li>
          );
        })}
      </ol>
      <form class="custom-percent" onSubmit={submitCustom}>
        <label for="custom-percent">Custom percentage</label>
        <div class="inline">
          <input
            id="custom-percent"
            inputMode="decimal"
            placeholder="e.g. 25 or 0.5"
            value={custom}
            disabled={!rights.canEdit}
            title={rights.reason}
            onInput={(e) => setCustom(e.currentTarget.value)}
            aria-invalid={customError ? true : undefined}
            aria-describedby={customError ? 'custom-percent-error' : 'custom-percent-hint'}
          />
          <span aria-hidden="true">%</span>
          <Guard reason={reason}>
            <button type="submit" class="button" disabled={!canEdit} aria-disabled={canEdit && actions.busy ? 'true' : undefined}>
              Set rollout
            </button>
          </Guard>
        </div>
        {customError ? (
          <span id="custom-percent-error" class="field-error" role="alert">
            {customError}
          </span>
        ) : (
          <span id="custom-percent-hint" class="hint">
            Dogfood users stay on; everyone inside a smaller rollout stays inside a larger one.
          </span>
        )}
      </form>
      <ChangeComment id="stage-comment" value={comment} onChange={setComment} disabled={!rights.canEdit} hint={actions.policy ? "Becomes the change request's title, and the audit log's comment when it is applied." : 'Saved with the next stage change in the audit log.'} />
    </div>
  );
}
