import { useState } from 'preact/hooks';
import { ApiError, del, enc } from '../api/client.js';
import { listSchedules, schedulePath, type Schedule } from '../api/schedules.js';
import { Banner, Loading } from '../components/Banner.js';
import { EnvironmentOptions } from '../components/EnvironmentOptions.js';
import { actionLabel, latePolicyLabel, soonestFirst, whoLabel } from '../logic/schedules.js';
import { formatInZone, formatOffset, offsetMinutesAt } from '../logic/timezone.js';
import { navigate, setSearchParams, useSearchParams } from '../router.js';
import { useScheduleRefresh, useViewerTimeZone } from '../schedule/hooks.js';
import { ActionText } from '../schedule/ActionText.js';
import { ScheduleTime } from '../schedule/ScheduleTime.js';
import { useApp, useCanEdit, useResource } from '../state.js';

/** At most this many upcoming changes are listed (the API's own limit). */
const LIMIT = 500;

/**
 * Every pending scheduled change, across flags and environments, soonest first; filtered by
 * environment (kept in the URL). Each row links to its flag in that environment; editors cancel here.
 */
export function UpcomingPage() {
  const { environments, setEnvironment } = useApp();
  const { canEdit } = useCanEdit();
  const timeZone = useViewerTimeZone();
  const [params] = useSearchParams();
  const filter = params.get('environment') ?? '';
  const schedules = useResource(() => listSchedules({ status: ['pending'], limit: LIMIT, ...(filter ? { environment: filter } : {}) }).then(soonestFirst), [filter]);
  const now = useScheduleRefresh(schedules.data, schedules.reload);
  const [message, setMessage] = useState<{ kind: 'success' | 'error'; text: string } | null>(null);
  const [busy, setBusy] = useState<number | null>(null);
  const envName = (key: string) => environments.find((e) => e.key === key)?.name ?? key;

  const chooseFilter = (value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set('environment', value);
    else next.delete('environment');
    setSearchParams(next);
  };

  /** The flag page shows the app's chosen environment: choose the schedule's first. */
  const openFlag = (e: MouseEvent, schedule: Schedule) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    setEnvironment(schedule.environment);
    navigate(`/flags/${enc(schedule.flag)}`);
  };

  const cancel = async (schedule: Schedule) => {
    setBusy(schedule.id);
    setMessage(null);
    try {
      await del<Schedule>(schedulePath(schedule.id), { version: schedule.version });
      setMessage({ kind: 'success', text: `Cancelled: ${actionLabel(schedule.action)} of ${schedule.flag} in ${envName(schedule.environment)} at ${formatInZone(new Date(schedule.at).getTime(), timeZone)}.` });
    } catch (error) {
      setMessage({ kind: 'error', text: `Not cancelled: ${error instanceof ApiError ? error.message : String(error)}` });
    } finally {
      setBusy(null);
      void schedules.reload();
    }
  };

  const items = schedules.data;
  return (
    <section class="upcoming">
      <h1>Upcoming changes</h1>
      <p class="hint">
        Scheduled stage moves, kills and change requests that have not run yet, soonest first. Times are in your time zone, {timeZone} ({formatOffset(offsetMinutesAt(now, timeZone))}), with UTC beside them.
      </p>
      <div class="filters">
        <div class="field">
          <label for="upcoming-environment">Show environment</label>
          <select id="upcoming-environment" value={filter} onChange={(e) => chooseFilter(e.currentTarget.value)}>
            <EnvironmentOptions environments={environments} />
          </select>
        </div>
      </div>
      {message && <Banner kind={message.kind}>{message.text}</Banner>}
      {schedules.error && !items && <Banner kind="error">Could not load the scheduled changes: {schedules.error.message}</Banner>}
      {!items && !schedules.error && <Loading what="the upcoming changes" />}
      {items && items.length === 0 && <p class="empty">{filter ? `Nothing scheduled in ${envName(filter)}.` : 'Nothing scheduled.'}</p>}
      {items && items.length > 0 && (
        <table class="flags-table upcoming-table">
          <caption class="visually-hidden">Upcoming scheduled changes, soonest first</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Flag</th>
              <th scope="col">Environment</th>
              <th scope="col">Change</th>
              <th scope="col">Scheduled by</th>
              {canEdit && (
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {items.map((s) => (
              <tr key={s.id} data-schedule={s.id}>
                <td>
                  <ScheduleTime at={s.at} timeZone={timeZone} />
                </td>
                <td>
                  {s.flag ? (
                    <a class="flag-link mono" href={`/flags/${enc(s.flag)}`} onClick={(e) => openFlag(e, s)}>
                      {s.flag}
                    </a>
                  ) : (
                    <span class="hint">segments only</span>
                  )}
                </td>
                <td>{envName(s.environment)}</td>
                <td>
                  <ActionText action={s.action} />
                  <div class="small">{latePolicyLabel(s)}</div>
                  {s.message && <div class="small">“{s.message}”</div>}
                </td>
                <td>{whoLabel(s).replace(/^scheduled by /, '')}</td>
                {canEdit && (
                  <td>
                    <button type="button" class="button small" disabled={busy !== null} onClick={() => void cancel(s)} aria-label={`Cancel: ${actionLabel(s.action)} of ${s.flag} in ${envName(s.environment)} (schedule ${s.id})`}>
                      Cancel
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {items && items.length >= LIMIT && <p class="hint">Showing the first {LIMIT}; filter by environment to see the rest.</p>}
    </section>
  );
}
