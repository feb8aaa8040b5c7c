import type { ComponentChildren, JSX } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, COMMENT_LIMIT, patch } from '../api/client.js';
import { schedulePath, type LatePolicy, type Schedule } from '../api/schedules.js';
import { Banner } from '../components/Banner.js';
import { schedulePatch, splitServerErrors, type ScheduleField, type ScheduleFormResult, type ScheduleFormState } from '../logic/schedules.js';
import { formatOffset, formatUtc, offsetMinutesAt, zonedToUtc } from '../logic/timezone.js';

/**
 * What the flag page's schedule form and a change request's scheduled apply share: the form's state,
 * its time typed in the viewer's zone, the late policy, the audit comment, and the server's refusals
 * shown in its words next to the field they name (or above the buttons). Each form adds what it
 * schedules and how a new one is created; an edit sends only what changed, to the schedule itself.
 */

export interface ScheduleFormOptions<R extends ScheduleFormResult> {
  initial: ScheduleFormState;
  timeZone: string;
  /** Element ids start with it: `schedule` gives `schedule-new-when`, `schedule-12-when`. */
  idPrefix: string;
  /** Editing this pending schedule; else a new one. */
  original?: Schedule;
  /** The request for the form's values, or what is wrong with them. */
  build(form: ScheduleFormState, timeZone: string): R;
  /** Creates the new schedule (editing patches `original`). */
  create(built: Extract<R, { ok: true }>): Promise<Schedule>;
  onSaved(schedule: Schedule, note: string | undefined): void;
}

export interface ScheduleFormControls {
  form: ScheduleFormState;
  set<K extends keyof ScheduleFormState>(field: K, value: ScheduleFormState[K]): void;
  timeZone: string;
  editing: boolean;
  busy: boolean;
  /** The element id of `field` in this form. */
  id(field: string): string;
  /** aria props for the input of `field`: invalid while it has an error, described by it (and by `hint`). */
  described(field: ScheduleField, hint?: string): { 'aria-invalid': true | undefined; 'aria-describedby': string | undefined };
  /** The error next to `field`, if it has one. */
  fieldMessage(field: ScheduleField): JSX.Element | null;
  /** Errors that name no field of the form. */
  general: string[];
  onSubmit(e: Event): void;
}

export function useScheduleForm<R extends ScheduleFormResult>({ initial, timeZone, idPrefix, original, build, create, onSaved }: ScheduleFormOptions<R>): ScheduleFormControls {
  const [form, setForm] = useState<ScheduleFormState>(initial);
  const [fieldErrors, setFieldErrors] = useState<Map<ScheduleField, string[]>>(new Map());
  const [general, setGeneral] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const prefix = `${idPrefix}-${original ? original.id : 'new'}`;
  const id = (field: string) => `${prefix}-${field}`;
  const set = <K extends keyof ScheduleFormState>(field: K, value: ScheduleFormState[K]) => setForm((f) => ({ ...f, [field]: value }));

  const submit = async () => {
    if (busy) return;
    setGeneral([]);
    const built = build(form, timeZone);
    if (!built.ok) {
      setFieldErrors(new Map([...built.errors].map(([field, message]) => [field, [message]])));
      return;
    }
    setFieldErrors(new Map());
    const changes = original ? schedulePatch(original, built.request) : undefined;
    if (changes && Object.keys(changes).length === 1) {
      setGeneral(['Nothing changed.']);
      return;
    }
    setBusy(true);
    try {
      const saved = original && changes ? await patch<Schedule>(schedulePath(original.id), changes) : await create(built as Extract<R, { ok: true }>);
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
  return {
    form,
    set,
    timeZone,
    editing: original !== undefined,
    busy,
    id,
    described: (field, hint) => {
      const ids = [errorOf(field) ? id(`${field}-error`) : '', hint ?? ''].filter(Boolean).join(' ');
      return { 'aria-invalid': errorOf(field) ? true : undefined, 'aria-describedby': ids || undefined };
    },
    fieldMessage: (field) => {
      const message = errorOf(field);
      return message ? (
        <span class="field-error" id={id(`${field}-error`)} role="alert">
          {message}
        </span>
      ) : null;
    },
    general,
    onSubmit: (e) => {
      e.preventDefault();
      void submit();
    },
  };
}

/** When (typed in the viewer's zone; the hint says which UTC time that is) and what to do if the server was down then. */
export function ScheduleTimeFields({ controls }: { controls: ScheduleFormControls }) {
  const { form, set, timeZone, id, described, fieldMessage } = controls;
  const preview = zonedToUtc(form.when, timeZone);
  const offset = formatOffset(offsetMinutesAt(preview.ok ? preview.utcMs : Date.now(), timeZone));
  return (
    <>
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
    </>
  );
}

/**
 * The end of a schedule form, after its fields: the audit comment, which of a twice-happening time
 * it takes, `children` (notes of the form's own), what the server refused, and the buttons.
 */
export function ScheduleFormFooter({ controls, submitLabel, onClose, children }: { controls: ScheduleFormControls; submitLabel: string; onClose(): void; children?: ComponentChildren }) {
  const { form, set, timeZone, id, described, fieldMessage, general, busy } = controls;
  const preview = zonedToUtc(form.when, timeZone);
  return (
    <>
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
      {children}
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
          {submitLabel}
        </button>
        <button type="button" class="button" onClick={onClose} disabled={busy}>
          {controls.editing ? 'Keep as it was' : 'Close'}
        </button>
      </div>
    </>
  );
}
