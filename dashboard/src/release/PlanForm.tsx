import { useState } from 'preact/hooks';
import { api, enc } from '../api/client.js';
import type { FlagActions } from '../flag/actions.js';
import { checkStepExposures, GUARD_MIN_EXPOSURES, MAX_STEP_EXPOSURES } from '../logic/canary.js';
import { hasPerStepValues, planBody, planFormValues, type PlanFormValues, type SavedPlanSpec } from '../logic/plan-form.js';

/**
 * Create (or replace) a plan: a guarded canary with editable steps, or a rolling ramp. Editing
 * (`saved`: the plan's spec) starts from the saved plan, and keeps what the form does not show.
 */
export function PlanForm({ flagKey, environment, actions, onSaved, saved }: { flagKey: string; environment: string; actions: FlagActions; onSaved: () => void; saved?: SavedPlanSpec | null }) {
  const [values, setValues] = useState<PlanFormValues>(() => planFormValues(saved));
  const [exposuresError, setExposuresError] = useState<string | undefined>(undefined);
  const set = (field: keyof PlanFormValues) => (e: Event) => setValues((v) => ({ ...v, [field]: (e.target as HTMLInputElement).value }));
  const { strategy, steps, minutes, exposures, increment, cap, errorEvent, alpha, delta } = values;
  // The guard decides nothing before its minExposures (GUARD_MIN_EXPOSURES unless the saved plan
  // says otherwise) per variation: a smaller step minimum would be overridden without a word, so
  // it is refused here, next to the field.
  const guardMinimum = (saved?.strategy === 'guarded' ? saved.guard?.minExposures : undefined) ?? GUARD_MIN_EXPOSURES;
  const perStep = hasPerStepValues(saved);
  const save = async (e: Event) => {
    e.preventDefault();
    const checked = strategy === 'guarded' ? checkStepExposures(exposures, guardMinimum) : { value: 0 };
    if ('error' in checked) {
      setExposuresError(checked.error);
      return;
    }
    setExposuresError(undefined);
    const body = planBody(values, checked.value, saved);
    const result = await actions.run('Release plan saved.', () => api('PUT', `/api/flags/${enc(flagKey)}/environments/${enc(environment)}/release-plan`, body));
    if (result.ok) onSaved();
  };
  return (
    <form class="plan-form" onSubmit={(e) => void save(e)}>
      <div class="inline">
        <label class="field">
          Strategy
          <select value={strategy} onChange={set('strategy')}>
            <option value="guarded">Guarded canary (rolls back on errors)</option>
            <option value="rolling">Rolling (timed ramp, no guard)</option>
          </select>
        </label>
        {strategy === 'guarded' ? (
          <>
            <label class="field">
              Steps (%)
              <input value={steps} onInput={set('steps')} aria-describedby={perStep ? 'plan-steps-hint' : undefined} />
            </label>
            <div class="field">
              <label for="plan-exposures">Min exposures per step</label>
              <input
                id="plan-exposures"
                type="number"
                min={guardMinimum}
                max={MAX_STEP_EXPOSURES}
                step="1"
                value={exposures}
                aria-invalid={exposuresError ? true : undefined}
                aria-describedby={exposuresError ? 'plan-exposures-error plan-exposures-hint' : 'plan-exposures-hint'}
                onInput={(e) => {
                  set('exposures')(e);
                  setExposuresError(undefined);
                }}
                onInvalid={(e) => {
                  // Our message next to the field instead of the browser's bubble.
                  e.preventDefault();
                  const checked = checkStepExposures((e.target as HTMLInputElement).value, guardMinimum);
                  setExposuresError('error' in checked ? checked.error : 'Enter a whole number of exposures');
                }}
              />
              <span id="plan-exposures-hint" class="hint">
                At least {guardMinimum} exposures per variation before a decision: the guard waits for them in any case.
              </span>
              {exposuresError && (
                <span id="plan-exposures-error" class="field-error" role="alert">
                  {exposuresError}
                </span>
              )}
            </div>
            <label class="field" title="client.track(name, user) events counted as errors">
              Error event
              <input value={errorEvent} onInput={set('errorEvent')} />
            </label>
            <label class="field" title="α: the chance of rolling back a variation that is no worse (false rollback rate)">
              False rollback risk (α)
              <input type="number" min="0.0001" max="0.5" step="any" value={alpha} onInput={set('alpha')} />
            </label>
            <label class="field" title="δ: error-rate increases smaller than this (relative to the control) are tolerated">
              Tolerated increase (δ, %)
              <input type="number" min="0" max="1000" step="any" value={delta} onInput={set('delta')} />
            </label>
          </>
        ) : (
          <>
            <label class="field">
              +% per interval
              <input type="number" min="0.001" step="any" value={increment} onInput={set('increment')} />
            </label>
            <label class="field">
              Cap (%)
              <input type="number" min="0.001" max="100" step="any" value={cap} onInput={set('cap')} />
            </label>
          </>
        )}
        <label class="field">
          {strategy === 'guarded' ? 'Min minutes per step' : 'Minutes per increment'}
          <input type="number" min="0" step="any" value={minutes} onInput={set('minutes')} />
        </label>
      </div>
      {perStep && strategy === 'guarded' && (
        <p id="plan-steps-hint" class="hint">
          The saved steps have durations and exposure minimums of their own; they stay as they are unless you change the steps, the exposures or the minutes, which then apply to every step.
        </p>
      )}
      <button class="button" type="submit" disabled={actions.busy}>
        Save plan
      </button>
    </form>
  );
}
