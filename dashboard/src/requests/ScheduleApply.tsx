import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, del, post } from '../api/client.js';
import { listSchedules, schedulePath, type Schedule } from '../api/schedules.js';
import type { ChangeRequest } from '../api/types.js';
import { Banner } from '../components/Banner.js';
import { Guard } from '../components/Guard.js';
import { isPending } from '../logic/change-requests.js';
import { applyScheduleBody, approvedForApply, finishedLabel, newApplyForm, requestScheduleFlag, requestScheduleQuery, requestSchedules, scheduleApplyControl } from '../logic/request-schedule.js';
import { actionLabel, latePolicyLabel, scheduleToForm, STATUS_LABELS, whoLabel, type ScheduleFormState } from '../logic/schedules.js';
import { formatInZone } from '../logic/timezone.js';
import { useScheduleRefresh, useViewerTimeZone } from '../schedule/hooks.js';
import { RunFacts } from '../schedule/RunFacts.js';
import { ScheduleTime } from '../schedule/ScheduleTime.js';
import { ScheduleFormFooter, ScheduleTimeFields, useScheduleForm } from '../schedule/ScheduleTimeFields.js';
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
  // `about`: the pending schedule a message speaks of ("Changed: … at …"); it is not shown once that one has finished.
  const [said, setMessage] = useState<{ kind: 'success' | 'error'; text: string; about?: number } | null>(null);
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

  const message = said && (said.about === undefined || said.about === pending?.id) ? said : null;
  const control = scheduleApplyControl(request, me, pending);
  const canManage = me.role !== 'viewer';
  if (!schedules.data && !schedules.error) return null;
  if (!control.show && !pending && finished.length === 0 && !message) return null;

  const when = (s: Schedule) => formatInZone(new Date(s.at).getTime(), timeZone);
  const saved = (what: string) => (schedule: Schedule, note: string | undefined) => {
    setEditing(null);
    setMessage({ kind: 'success', text: `${what}: ${actionLabel(schedule.action)} at ${when(schedule)}.${note ? ` ${note}` : ''}`, about: schedule.id });
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
                <RunFacts schedule={s} timeZone={timeZone} />
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
  const controls = useScheduleForm({
    initial,
    timeZone,
    idPrefix: 'apply-schedule',
    original,
    build: applyScheduleBody,
    create: (built) => post<Schedule>(`/api/change-requests/${request.id}/schedule`, built.body),
    onSaved,
  });
  return (
    <form class="schedule-form" aria-label={original ? `Edit the scheduled apply of change request #${request.id}` : `Schedule the apply of change request #${request.id}`} onSubmit={controls.onSubmit} noValidate>
      <div class="schedule-fields">
        <ScheduleTimeFields controls={controls} />
      </div>
      <ScheduleFormFooter controls={controls} submitLabel={original ? 'Save time' : 'Schedule apply'} onClose={onClose} />
    </form>
  );
}
