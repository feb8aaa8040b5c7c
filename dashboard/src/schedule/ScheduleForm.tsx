import { post } from '../api/client.js';
import { schedulesPath, type Schedule } from '../api/schedules.js';
import type { Environment, Flag } from '../api/types.js';
import { actionLabel, CUSTOM, KILL, SCHEDULE_CHOICES, scheduleRequest, type ScheduleFormState } from '../logic/schedules.js';
import { ScheduleFormFooter, ScheduleTimeFields, useScheduleForm } from './ScheduleTimeFields.js';

interface Props {
  flag: Flag;
  environment: Environment;
  timeZone: string;
  initial: ScheduleFormState;
  /** Editing this pending schedule; else a new one. */
  original?: Schedule;
  onSaved(schedule: Schedule, note: string | undefined): void;
  onClose(): void;
}

/**
 * Schedule a stage move or a kill in one environment, or edit a pending one: the time is typed in
 * the viewer's zone and sent as UTC (the hint shows which UTC time that is). What the server
 * refuses is shown in its words, next to the field it names, or above the buttons.
 */
export function ScheduleForm({ flag, environment, timeZone, initial, original, onSaved, onClose }: Props) {
  const controls = useScheduleForm({
    initial,
    timeZone,
    idPrefix: 'schedule',
    original,
    build: scheduleRequest,
    create: (built) => post<Schedule>(schedulesPath(flag.key, environment.key), built.request),
    onSaved,
  });
  const { form, set, id, described, fieldMessage } = controls;
  const movesStage = !form.fixed && form.choice !== KILL && form.choice !== 'off';

  return (
    <form class="schedule-form" aria-label={original ? `Edit scheduled change ${original.id}` : 'New scheduled change'} onSubmit={controls.onSubmit} noValidate>
      <div class="schedule-fields">
        {form.fixed ? (
          <div class="field">
            <span class="field-label">Action</span>
            <span>{actionLabel(form.fixed)}</span>
          </div>
        ) : (
          <div class="field">
            <label for={id('action')}>Action</label>
            <select id={id('action')} value={form.choice} onChange={(e) => set('choice', e.currentTarget.value)} {...described('action.stage')}>
              {SCHEDULE_CHOICES.map((c) => (
                <option key={c.value} value={c.value}>
                  {c.label}
                </option>
              ))}
            </select>
            {form.choice !== CUSTOM && fieldMessage('action.stage')}
          </div>
        )}
        {!form.fixed && form.choice === CUSTOM && (
          <div class="field">
            <label for={id('percent')}>Percentage</label>
            <input id={id('percent')} inputMode="decimal" placeholder="e.g. 25 or 0.5" value={form.percent} onInput={(e) => set('percent', e.currentTarget.value)} {...described('action.stage')} />
            {fieldMessage('action.stage')}
          </div>
        )}
        {movesStage && flag.type !== 'boolean' && (
          <div class="field">
            <label for={id('variation')}>Variation to release</label>
            <select id={id('variation')} value={form.variation} onChange={(e) => set('variation', e.currentTarget.value)} {...described('action.variation')}>
              <option value="">The current one</option>
              {flag.variations.map((v) => (
                <option key={v.key} value={v.key}>
                  {v.name ? `${v.name} (${v.key})` : v.key}
                </option>
              ))}
            </select>
            {fieldMessage('action.variation')}
          </div>
        )}
        <ScheduleTimeFields controls={controls} />
      </div>
      <ScheduleFormFooter controls={controls} submitLabel={original ? 'Save changes' : 'Schedule'} onClose={onClose}>
        {environment.critical && <p class="hint">{environment.name} is a critical environment: this reaches real users at that time.</p>}
      </ScheduleFormFooter>
    </form>
  );
}
