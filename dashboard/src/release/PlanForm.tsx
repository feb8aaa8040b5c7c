import { useState } from 'preact/hooks';
import { api, enc } from '../api/client.js';
import type { FlagActions } from '../flag/actions.js';
import { checkStepExposures, GUARD_MIN_EXPOSURES, MAX_STEP_EXPOSURES } from '../logic/canary.js';

const MINUTE = 60_000;

/** Create (or replace) a plan: a guarded canary with editable steps, or a rolling ramp. */
export function PlanForm({ flagKey, environment, actions, onSaved }: { flagKey: string; environment: string; actions: FlagActions; onSaved: () => void }) {
  const [strategy, setStrategy] = useState<'guarded' | 'rolling'>('guarded');
  const [steps, setSteps] = useState('1, 10, 50, 100');
  const [minutes, setMinutes] = useState('10');
  const [exposures, setExposures] = useState('1000');
  const [exposuresError, setExposuresError] = useState<string | undefined>(undefined);
  const [increment, setIncrement] = useState('10');
  const [cap, setCap] = useState('100');
  // The guard's decision rule (README "The decision rule"); the defaults are the server's.
  const [errorEvent, setErrorEvent] = useState('error');
  const [alpha, setAlpha] = useState('0.05');
  const [delta, setDelta] = useState('10');
  const save = async (e: Event) => {
    e.preventDefault();
    // The guard decides nothing before GUARD_MIN_EXPOSURES per variation: a smaller step minimum
    // would be overridden without a word, so it is refused here, next to the field.
    const checked = strategy === 'guarded' ? checkStepExposures(exposures) : { value: 0 };
    if ('error' in checked) {
      setExposuresError(checked.error);
      return;
    }
    setExposuresError(undefined);
    const body =
      strategy === 'guarded'
        ? {
            strategy,
            steps: steps
              .split(',')
              .map((s) => Number(s.trim().replace('%', '')))
              .map((percentage) => ({ percentage, minDurationMs: Math.round(Number(minutes) * MINUTE), minExposures: percentage >= 100 ? 0 : checked.value })),
            guard: { errorEvent: errorEvent.trim(), alpha: Number(alpha), minRelativeIncrease: Number(delta) / 100 },
          }
        : { strategy, incrementPercent: Number(increment), intervalMs: Math.round(Number(minutes) * MINUTE), capPercent: Number(cap) };
    const result = await actions.run('Release plan saved.', () => api('PUT', `/api/flags/${enc(flagKey)}/environments/${enc(environment)}/release-plan`, body));
    if (result.ok) onSaved();
  };
  return (
    <form class="plan-form" onSubmit={(e) => void save(e)}>
      <div class="inline">
        <label class="field">
          Strategy
          <select value={strategy} onChange={(e) => setStrategy((e.target as HTMLSelectElement).value as 'guarded' | 'rolling')}>
            <option value="guarded">Guarded canary (rolls back on errors)</option>
            <option value="rolling">Rolling (timed ramp, no guard)</option>
          </select>
        </label>
        {strategy === 'guarded' ? (
          <>
            <label class="field">
              Steps (%)
              <input value={steps} onInput={(e) => setSteps((e.target as HTMLInputElement).value)} />
            </label>
            <div class="field">
              <label for="plan-exposures">Min exposures per step</label>
              <input
                id="plan-exposures"
                type="number"
                min={GUARD_MIN_EXPOSURES}
                max={MAX_STEP_EXPOSURES}
                step="1"
                value={exposures}
                aria-invalid={exposuresError ? true : undefined}
                aria-describedby={exposuresError ? 'plan-exposures-error plan-exposures-hint' : 'plan-exposures-hint'}
                onInput={(e) => {
                  setExposures((e.target as HTMLInputElement).value);
                  setExposuresError(undefined);
                }}
                onInvalid={(e) => {
                  // Our message next to the field instead of the browser's bubble.
                  e.preventDefault();
                  const checked = checkStepExposures((e.target as HTMLInputElement).value);
                  setExposuresError('error' in checked ? checked.error : 'Enter a whole number of exposures');
                }}
              />
              <span id="plan-exposures-hint" class="hint">
                At least {GUARD_MIN_EXPOSURES} exposures per variation before a decision: the guard waits for them in any case.
              </span>
              {exposuresError && (
                <span id="plan-exposures-error" class="field-error" role="alert">
                  {exposuresError}
                </span>
              )}
            </div>
            <label class="field" title="client.track(name, user) events counted as errors">
              Error event
              <input value={errorEvent} onInput={(e) => setErrorEvent((e.target as HTMLInputElement).value)} />
            </label>
            <label class="field" title="α: the chance of rolling back a variation that is no worse (false rollback rate)">
              False rollback risk (α)
              <input type="number" min="0.0001" max="0.5" step="any" value={alpha} onInput={(e) => setAlpha((e.target as HTMLInputElement).value)} />
            </label>
            <label class="field" title="δ: error-rate increases smaller than this (relative to the control) are tolerated">
              Tolerated increase (δ, %)
              <input type="number" min="0" max="1000" step="any" value={delta} onInput={(e) => setDelta((e.target as HTMLInputElement).value)} />
            </label>
          </>
        ) : (
          <>
            <label class="field">
              +% per interval
              <input type="number" min="0.001" step="any" value={increment} onInput={(e) => setIncrement((e.target as HTMLInputElement).value)} />
            </label>
            <label class="field">
              Cap (%)
              <input type="number" min="0.001" max="100" step="any" value={cap} onInput={(e) => setCap((e.target as HTMLInputElement).value)} />
            </label>
          </>
        )}
        <label class="field">
          {strategy === 'guarded' ? 'Min minutes per step' : 'Minutes per increment'}
          <input type="number" min="0" step="any" value={minutes} onInput={(e) => setMinutes((e.target as HTMLInputElement).value)} />
        </label>
      </div>
      <button class="button" type="submit" disabled={actions.busy}>
        Save plan
      </button>
    </form>
  );
}
