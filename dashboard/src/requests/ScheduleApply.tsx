import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, COMMENT_LIMIT, del, patch, post } from '../api/client.js';
import { listSchedules, schedulePath, type LatePolicy, type Schedule } from '../api/schedules.js';
import type { ChangeRequest } from '../api/types.js';
import { Banner } from '../components/Banner.js';
import { Guard } from '../components/Guard.js';
import { isPending } from '../logic/change-requests.js';
import { applyScheduleBody, approvedForApply, finishedLabel, newApplyForm, requestScheduleFlag, requestScheduleQuery, requestSchedules, scheduleApplyControl } from '../logic/request-schedule.js';
import { actionLabel, latePolicyLabel, schedulePatch, scheduleToForm, splitServerErrors, STATUS_LABELS, whoLabel, type ScheduleField, type ScheduleFormState } from '../logic/schedules.js';
import { relativeTime } from '../logic/time.js';
import { formatInZone, formatOffset, formatUtc, offsetMinutesAt, zonedToUtc } from '../logic/timezone.js';
import { useScheduleRefresh, useViewerTimeZone } from '../schedule/hooks.js';
import { ScheduleTime } from '../schedule/ScheduleTime.js';
import { useApp, useResource } from '../state.js';

type Editing = { kind: 'new' } | { kind: 'edit'; schedule: Schedule } | null;

/**
 * The scheduled apply of a change request, on its page: "Schedule apply…" for editors once it is
 * approved (the time typed in the viewer's zone, sent as UTC, with the late policy), the pending
 * schedule (local time and UTC, who scheduled it; edit its time or cancel it), and what happened
 * when it ran. `onRan` is called when a pending schedule is seen to have finished, to reload the request.
 */
export function ScheduleApply({ request, onRan }: { request: ChangeRequest; onRan(): void }) {
  const { me } = useApp();
  const timeZone = useViewerTimeZone();
  const flagKey = requestScheduleFlag(request);
  const schedules = useResource(async () => {
    const [pending, finished] = await Promise.all([
      listSchedules(requestScheduleQuery(request, ['pending', 'running'])),
      listSchedules(requestScheduleQuery(request, ['executed', 'failed', 'skipped', 'cancelled'])),
    ]);
    return requestSchedules([...pending, ...finished], request.id);
  }, [request.id, request.status, request.version]);
  const pending = schedules.data?.pending;
  const finished = schedules.data?.finished ?? [];
  useScheduleRefresh(pending ? [pending] : undefined, schedules.reload, flagKey || undefined);
  const [editing, setEditing] = useState<Editing>(null);
  const [message, setMessage] = useState<{ kind: 'success' | 'error'; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  // The pending one finished (ran, failed, was skipped, or was cancelled elsewhere): the request may have changed too.
  const seenPending = useRef<number | undefined>(undefined);
  useEffect(() => {
    if (!schedules.data) return;
    const now = schedules.data.pending?.id;
    if (seenPending.current !== undefined && now !== seenPending.current) {
      // What was said about it ("Scheduled: … at …") is out of date: the list below says what happened.
      setMessage(null);
      setEditing(null);
      onRan();
    }
    seenPending.current = now;
  }, [schedules.data]);

  const control = scheduleApplyControl(request, me, pending);
  const canManage = me.role !== 'viewer';
  if (!schedules.data && !schedules.error) return null;
  if (!control.show && !pending && finished.length === 0 && !message) return null;

  const when = (s: Schedule) => formatInZone(new Date(s.at).getTime(), timeZone);
  const saved = (what: string) => (schedule: Schedule, note: string | undefined) => {
    setEditing(null);
    setMessage({ kind: 'success', text: `${what}: ${actionLabel(schedule.action)} at ${when(schedule)}.${note ? ` ${note}` : ''}` });
    void schedules.reload();
  };
  const cancel = async (schedule: Schedule) => {
    setBusy(true);
    setMessage(null);
    try {
      await del<Schedule>(schedulePath(schedule.id), { version: schedule.version });
      seenPending.current = undefined;
      setMessage({ kind: 'success', text: `Cancelled: ${actionLabel(schedule.action)} at ${when(schedule)}.` });
    } catch (error) {
      setMessage({ kind: 'error', text: `Not cancelled: ${error instanceof ApiError ? error.message : String(error)}` });
    } finally {
      setBusy(false);
      void schedules.reload();
    }
  };

  return (
    <section class="card request-schedule" aria-labelledby="request-schedule-title">
      <h2 id="request-schedule-title">Scheduled apply</h2>
      {schedules.error && !schedules.data && <Banner kind="error">Could not load the scheduled apply: {schedules.error.message}</Banner>}
      {pending &&
        (editing?.kind === 'edit' ? (
          <ApplyScheduleForm request={request} timeZone={timeZone} initial={scheduleToForm(editing.schedule, timeZone)} original={editing.schedule} onSaved={saved('Changed')} onClose={() => setEditing(null)} />
        ) : (
          <div class="schedule-item request-schedule-pending" data-schedule={pending.id} data-status={pending.status}>
            <div class="schedule-main">
              <span class="badge small schedule-status-pending">{STATUS_LABELS[pending.status]}</span> <strong class="schedule-action">{actionLabel(pending.action)}</strong> at <ScheduleTime at={pending.at} timeZone={timeZone} />
            </div>
            <div class="small schedule-who">
              {whoLabel(pending)} · {latePolicyLabel(pending)}
              {pending.message && <> · “{pending.message}”</>}
            </div>
            {isPending(request.status) && !approvedForApply(request) && <p class="hint">It is not approved now: when due, the run fails and changes nothing unless it is approved again by then.</p>}
            {canManage && pending.status === 'pending' && (
              <div class="schedule-buttons">
                <button
                  type="button"
                  class="button small"
                  disabled={busy}
                  onClick={() => {
                    setMessage(null);
                    setEditing({ kind: 'edit', schedule: pending });
                  }}
                >
                  Edit time…
                </button>
                <button type="button" class="button small" disabled={busy} onClick={() => void cancel(pending)}>
                  Cancel schedule
                </button>
              </div>
            )}
          </div>
        ))}
      {message && (
        <div class="schedule-message">
          <Banner kind={message.kind}>{message.text}</Banner>
        </div>
      )}
      {control.show &&
        (editing?.kind === 'new' ? (
          <ApplyScheduleForm request={request} timeZone={timeZone} initial={newApplyForm(Date.now(), timeZone, request.id)} onSaved={saved('Scheduled')} onClose={() => setEditing(null)} />
        ) : (
          <>
            <Guard reason={control.disabledReason}>
              <button
                type="button"
                class="button"
                disabled={control.disabledReason !== undefined}
                onClick={() => {
                  setMessage(null);
                  setEditing({ kind: 'new' });
                }}
              >
                Schedule apply…
              </button>
            </Guard>
            {!control.disabledReason && <p class="hint">Applied at that time by the scheduler, once, as Apply would: it fails and changes nothing if the request is no longer approved or anything it touches changed since.</p>}
          </>
        ))}
      {finished.length > 0 && (
        <>
          <h3>Earlier schedules</h3>
          <ul class="schedule-list done" aria-label="Earlier scheduled applies">
            {finished.map((s) => (
              <li key={s.id} class={`schedule-item status-${s.status}`} data-schedule={s.id} data-status={s.status}>
                <div class="schedule-main">
                  <span class={`badge small schedule-status-${s.status}`}>{STATUS_LABELS[s.status]}</span> due at <ScheduleTime at={s.at} timeZone={timeZone} relative={false} />
                </div>
                <div class="small">
                  {whoLabel(s)}
                  {s.executedAt && (
                    <>
                      {' '}
                      · {s.status === 'executed' ? 'ran' : s.status} <span title={formatInZone(new Date(s.executedAt).getTime(), timeZone)}>{relativeTime(s.executedAt)}</span>
                    </>
                  )}
                  {s.lateBySeconds !== null && <> · {s.lateBySeconds} s late</>}
                </div>
                <div class="schedule-outcome">{finishedLabel(s)}</div>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

interface FormProps {
  request: ChangeRequest;
  timeZone: string;
  initial: ScheduleFormState;
  original?: Schedule;
  onSaved(schedule: Schedule, note: string | undefined): void;
  onClose(): void;
}

/**
 * When to apply the request: the time in the viewer's zone (the hint says which UTC time that is),
 * the late policy and an audit comment, as the flag page's schedule form has them. The server's
 * refusals are shown in its words next to the field they name, or above the buttons.
 */
function ApplyScheduleForm({ request, timeZone, initial, original, onSaved, onClose }: FormProps) {
  const [form, setForm] = useState<ScheduleFormState>(initial);
  const [fieldErrors, setFieldErrors] = useState<Map<ScheduleField, string[]>>(new Map());
  const [general, setGeneral] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const prefix = original ? `apply-schedule-${original.id}` : 'apply-schedule-new';
  const id = (field: string) => `${prefix}-${field}`;
  const set = <K extends keyof ScheduleFormState>(field: K, value: ScheduleFormState[K]) => setForm((f) => ({ ...f, [field]: value }));
  const preview = zonedToUtc(form.when, timeZone);
  const offset = formatOffset(offsetMinutesAt(preview.ok ? preview.utcMs : Date.now(), timeZone));

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setGeneral([]);
    const built = applyScheduleBody(form, timeZone);
    if (!built.ok) {
      setFieldErrors(new Map([...built.errors].map(([field, text]) => [field, [text]])));
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
      const saved = changes ? await patch<Schedule>(schedulePath(original!.id), changes) : await post<Schedule>(`/api/change-requests/${request.id}/schedule`, built.body);
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
    const text = errorOf(field);
    return text ? (
      <span class="field-error" id={id(`${field}-error`)} role="alert">
        {text}
      </span>
    ) : null;
  };

  return (
    <form class="schedule-form" aria-label={original ? `Edit the scheduled apply of change request #${request.id}` : `Schedule the apply of change request #${request.id}`} onSubmit={(e) => void submit(e)} noValidate>
      <div class="schedule-fields">
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
      {general.length > 0 && (
        <Banner kind="error">
          {general.map((text, i) => (
            <span key={i} class="schedule-error">
              {text}
            </span>
          ))}
        </Banner>
      )}
      <div class="actions">
        <button type="submit" class="button primary" disabled={busy}>
          {original ? 'Save time' : 'Schedule apply'}
        </button>
        <button type="button" class="button" onClick={onClose} disabled={busy}>
          {original ? 'Keep as it was' : 'Close'}
        </button>
      </div>
    </form>
  );
}
