import { useEffect, useState } from 'preact/hooks';
import { ApiError, del } from '../api/client.js';
import { listSchedules, schedulePath, type Schedule } from '../api/schedules.js';
import type { Environment, Flag, FlagEnvironment } from '../api/types.js';
import { Banner } from '../components/Banner.js';
import { Guard } from '../components/Guard.js';
import { actionLabel, latePolicyLabel, latestFirst, newScheduleForm, scheduleToForm, soonestFirst, STATUS_LABELS, whoLabel } from '../logic/schedules.js';
import { formatInZone } from '../logic/timezone.js';
import { Link } from '../router.js';
import { useCanEdit, useResource } from '../state.js';
import { useScheduleRefresh, useViewerTimeZone } from './hooks.js';
import { ActionText } from './ActionText.js';
import { RunFacts } from './RunFacts.js';
import { ScheduleForm } from './ScheduleForm.js';
import { ScheduleTime } from './ScheduleTime.js';

/** Finished schedules shown under the pending ones. */
const RECENT = 5;

type Editing = { kind: 'new' } | { kind: 'edit'; id: number } | null;

/**
 * Scheduled changes of one flag in the chosen environment: the pending ones (time in the viewer's
 * zone, UTC beside it; who scheduled it; what; the late policy), a form to schedule one, edit and
 * cancel while pending, and the last few that ran, were skipped or failed, with what happened.
 */
export function SchedulesPanel({ flag, config, environment }: { flag: Flag; config: FlagEnvironment; environment: Environment }) {
  const timeZone = useViewerTimeZone();
  // A kill can be scheduled on a Git-managed flag (the kill switch works there); the server refuses a move, saying why.
  const { canEdit, reason } = useCanEdit(flag, { emergency: true });
  const schedules = useResource(async () => {
    const [pending, finished] = await Promise.all([
      listSchedules({ flag: flag.key, environment: environment.key, status: ['pending'], limit: 500 }),
      listSchedules({ flag: flag.key, environment: environment.key, status: ['executed', 'skipped', 'failed'], limit: 500 }),
    ]);
    // One that ran between the two reads is in both: it has finished.
    const done = new Set(finished.map((s) => s.id));
    return { pending: soonestFirst(pending.filter((s) => !done.has(s.id))), finished: latestFirst(finished, RECENT) };
  }, [flag.key, environment.key]);
  // Re-renders now and then, so "in 2 hours" stays true.
  useScheduleRefresh(schedules.data?.pending, schedules.reload, flag.key);
  const [editing, setEditing] = useState<Editing>(null);
  const [message, setMessage] = useState<{ kind: 'success' | 'error'; text: string } | null>(null);
  const [busy, setBusy] = useState<number | null>(null);
  // Another environment (or flag) chosen: its own list, no half-filled form from the last one.
  useEffect(() => {
    setEditing(null);
    setMessage(null);
  }, [flag.key, environment.key]);

  // The confirmation is shown with the list it speaks of: after the list has been read again.
  const saved = (what: string) => (schedule: Schedule, note: string | undefined) => {
    setEditing(null);
    const text = `${what}: ${actionLabel(schedule.action)} at ${formatInZone(new Date(schedule.at).getTime(), timeZone)}.${note ? ` ${note}` : ''}`;
    void schedules.reload().then(() => setMessage({ kind: 'success', text }));
  };

  const cancel = async (schedule: Schedule) => {
    setBusy(schedule.id);
    setMessage(null);
    let said: { kind: 'success' | 'error'; text: string };
    try {
      await del<Schedule>(schedulePath(schedule.id), { version: schedule.version });
      said = { kind: 'success', text: `Cancelled: ${actionLabel(schedule.action)} at ${formatInZone(new Date(schedule.at).getTime(), timeZone)}.` };
    } catch (error) {
      said = { kind: 'error', text: `Not cancelled: ${error instanceof ApiError ? error.message : String(error)}` };
    }
    await schedules.reload();
    setBusy(null);
    setMessage(said);
  };

  const pending = schedules.data?.pending ?? [];
  const finished = schedules.data?.finished ?? [];
  return (
    <section class="card schedules" aria-labelledby="schedules-title">
      <div class="schedules-head">
        <h2 id="schedules-title">
          Scheduled changes in <span class={environment.critical ? 'env-name critical-name' : 'env-name'}>{environment.name}</span>
        </h2>
        <Link href="/schedules">All upcoming changes</Link>
      </div>
      {schedules.error && !schedules.data && <Banner kind="error">Could not load the scheduled changes: {schedules.error.message}</Banner>}
      {schedules.data && pending.length === 0 && <p class="empty">Nothing scheduled in {environment.name}.</p>}
      {pending.length > 0 && (
        <ul class="schedule-list" aria-label="Pending scheduled changes">
          {pending.map((s) =>
            editing?.kind === 'edit' && editing.id === s.id ? (
              <li key={s.id} class="schedule-item editing" data-schedule={s.id}>
                <ScheduleForm flag={flag} environment={environment} timeZone={timeZone} initial={scheduleToForm(s, timeZone)} original={s} onSaved={saved('Changed')} onClose={() => setEditing(null)} />
              </li>
            ) : (
              <li key={s.id} class="schedule-item" data-schedule={s.id} data-status={s.status}>
                <div class="schedule-main">
                  <strong class="schedule-action">
                    <ActionText action={s.action} />
                  </strong> at <ScheduleTime at={s.at} timeZone={timeZone} />
                </div>
                <div class="small">
                  {whoLabel(s)} · {latePolicyLabel(s)}
                  {s.message && <> · “{s.message}”</>}
                </div>
                {canEdit && (
                  <div class="schedule-buttons">
                    <button type="button" class="button small" disabled={busy !== null} onClick={() => setEditing({ kind: 'edit', id: s.id })} aria-label={`Edit: ${actionLabel(s.action)} (schedule ${s.id})`}>
                      Edit
                    </button>
                    <button type="button" class="button small" disabled={busy !== null} onClick={() => void cancel(s)} aria-label={`Cancel: ${actionLabel(s.action)} (schedule ${s.id})`}>
                      Cancel
                    </button>
                  </div>
                )}
              </li>
            ),
          )}
        </ul>
      )}
      {message && (
        <div class="schedule-message">
          <Banner kind={message.kind}>{message.text}</Banner>
        </div>
      )}
      {editing?.kind === 'new' ? (
        <ScheduleForm flag={flag} environment={environment} timeZone={timeZone} initial={newScheduleForm(Date.now(), timeZone, config.stage)} onSaved={saved('Scheduled')} onClose={() => setEditing(null)} />
      ) : (
        <Guard reason={reason}>
          <button
            type="button"
            class="button"
            disabled={!canEdit}
            onClick={() => {
              setMessage(null);
              setEditing({ kind: 'new' });
            }}
          >
            Schedule a change…
          </button>
        </Guard>
      )}
      {finished.length > 0 && (
        <>
          <h3>Recently</h3>
          <ul class="schedule-list done" aria-label="Recent scheduled changes">
            {finished.map((s) => (
              <li key={s.id} class={`schedule-item status-${s.status}`} data-schedule={s.id} data-status={s.status}>
                <div class="schedule-main">
                  <span class={`badge small schedule-status-${s.status}`}>{STATUS_LABELS[s.status]}</span> <strong class="schedule-action">
                    <ActionText action={s.action} />
                  </strong> due at{' '}
                  <ScheduleTime at={s.at} timeZone={timeZone} relative={false} />
                </div>
                <RunFacts schedule={s} timeZone={timeZone} />
                {s.outcome && <div class="schedule-outcome">{s.outcome}</div>}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
