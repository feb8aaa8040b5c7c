import { useState } from 'preact/hooks';
import { ApiError, COMMENT_LIMIT, patch, post } from '../api/client.js';
import { schedulePath, schedulesPath, type LatePolicy, type Schedule } from '../api/schedules.js';
import type { Environment, Flag } from '../api/types.js';
import { Banner } from '../components/Banner.js';
import { actionLabel, CUSTOM, KILL, SCHEDULE_CHOICES, scheduleRequest, schedulePatch, splitServerErrors, type ScheduleField, type ScheduleFormState } from '../logic/schedules.js';
import { formatOffset, formatUtc, offsetMinutesAt, zonedToUtc } from '../logic/timezone.js';

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
  const [form, setForm] = useState<ScheduleFormState>(initial);
  const [fieldErrors, setFieldErrors] = useState<Map<ScheduleField, string[]>>(new Map());
  const [general, setGeneral] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const prefix = original ? `schedule-${original.id}` : 'schedule-new';
  const id = (field: string) => `${prefix}-${field}`;
  const set = <K extends keyof ScheduleFormState>(field: K, value: ScheduleFormState[K]) => setForm((f) => ({ ...f, [field]: value }));

  const preview = zonedToUtc(form.when, timeZone);
  const offset = formatOffset(offsetMinutesAt(preview.ok ? preview.utcMs : Date.now(), timeZone));
  const movesStage = !form.fixed && form.choice !== KILL && form.choice !== 'off';

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    const built = scheduleRequest(form, timeZone);
    setGeneral([]);
    if (!built.ok) {
      setFieldErrors(new Map([...built.errors].map(([field, message]) => [field, [message]])));
      return;
    }
    setFieldErrors(new Map());
    const { request } = built;
    if (original) {
      const changes = schedulePatch(original, request);
      if (Object.keys(changes).length === 1) {
        setGeneral(['Nothing changed.']);
        return;
      }
    }
    setBusy(true);
    try {
      const saved = original
        ? await patch<Schedule>(schedulePath(original.id), schedulePatch(original, request))
        : await post<Schedule>(schedulesPath(flag.key, environment.key), request);
      onSaved(saved, built.note);
    } catch (error) {
      if (error instanceof ApiError) {
        const split = splitServerErrors(error.message, error.fieldErrors);
        setFieldErrors(split.fields);
        setGeneral(split.general);
      } else setGeneral([String(error)]);
    } finally {
      setBusy(false);
    }
  };

  const errorOf = (field: ScheduleField) => fieldErrors.get(field)?.join('; ');
  const described = (field: ScheduleField, hint?: string) => {
    const ids = [errorOf(field) ? id(`${field}-error`) : '', hint ?? ''].filter(Boolean).join(' ');
    return { 'aria-invalid': errorOf(field) ? (true as const) : undefined, 'aria-describedby': ids || undefined };
  };
  const fieldMessage = (field: ScheduleField) => {
    const message = errorOf(field);
    return message ? (
      <span class="field-error" id={id(`${field}-error`)} role="alert">
        {message}
      </span>
    ) : null;
  };

  return (
    <form class="schedule-form" aria-label={original ? `Edit scheduled change ${original.id}` : 'New scheduled change'} onSubmit={(e) => void submit(e)} noValidate>
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
        <div class="field">
          <label for={id('when')}>When (your time, {timeZone})</label>
          <input id={id('when')} type="datetime-local" step={1} value={form.when} onInput={(e) => set('when', e.currentTarget.value)} {...described('at', id('when-hint'))} />
          <span class="hint" id={id('when-hint')}>
            {preview.ok ? `${offset} · that is ${formatUtc(preview.utcMs)}` : `${timeZone} is ${offset}`}
          </span>
          {fieldMessage('at')}
        </div>
        <div class="field">
          <label for={id('late')}>If the server was down at that time</label>
          <select id={id('late')} value={form.onLate} onChange={(e) => set('onLate', e.currentTarget.value as LatePolicy)} {...described('onLate')}>
            <option value="run">Run it when back</option>
            <option value="skip">Skip it (if over 5 minutes late)</option>
          </select>
          {fieldMessage('onLate')}
        </div>
      </div>
      <div class="field">
        <label for={id('message')}>Comment for the audit log (optional)</label>
        <input id={id('message')} type="text" maxLength={COMMENT_LIMIT} value={form.message} placeholder="e.g. launch" onInput={(e) => set('message', e.currentTarget.value)} {...described('message')} />
        {fieldMessage('message')}
      </div>
      {preview.ok && preview.ambiguous && (
        <p class="hint" role="note">
          {form.when.replace('T', ' ')} happens twice in {timeZone} (the clocks go back): this is the first one, at {formatOffset(preview.offsetMinutes)}.
        </p>
      )}
      {environment.critical && <p class="hint">{environment.name} is a critical environment: this reaches real users at that time.</p>}
      {general.length > 0 && (
        <Banner kind="error">
          {general.map((message, i) => (
            <span key={i} class="schedule-error">
              {message}
            </span>
          ))}
        </Banner>
      )}
      <div class="actions">
        <button type="submit" class="button primary" disabled={busy}>
          {original ? 'Save changes' : 'Schedule'}
        </button>
        <button type="button" class="button" onClick={onClose} disabled={busy}>
          {original ? 'Keep as it was' : 'Close'}
        </button>
      </div>
    </form>
  );
}
