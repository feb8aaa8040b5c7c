import { formatDuration } from '../../domain/schedules.js';
import type { Logger } from '../logger.js';
import { PeriodicLoop } from '../periodic-loop.js';
import type { RunOutcome, SchedulesService } from './schedules.service.js';

export interface SchedulerOptions {
  /** How often due schedules are looked for. */
  tickMs?: number;
  log?: Logger;
}

/** A scheduled change runs at most this long after its time (plus the time to run it). */
export const DEFAULT_SCHEDULE_TICK_MS = 2000;
/** Schedules run per look; more wait for the next one. */
const BATCH = 50;

/**
 * Runs scheduled changes when they come due. Only the leader runs the timer, but correctness does not
 * depend on it: every run claims its schedule with a conditional UPDATE in the transaction that
 * applies it, so two schedulers looking at once (a leadership hand-over) still run it once. All
 * state is in the database: after a restart, the first look runs what came due meanwhile — or skips
 * it, by its late policy — and reports how late it was.
 */
export class Scheduler {
  private readonly loop: PeriodicLoop<RunOutcome[]>;

  constructor(
    private readonly service: SchedulesService,
    private readonly options: SchedulerOptions = {},
  ) {
    this.loop = new PeriodicLoop(options.tickMs ?? DEFAULT_SCHEDULE_TICK_MS, () => this.runDue());
  }

  get running(): boolean {
    return this.loop.running;
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Run every schedule due now, one after another; what each run did. Never throws. */
  tick(): Promise<RunOutcome[]> {
    return this.loop.tick();
  }

  private async runDue(): Promise<RunOutcome[]> {
    const outcomes: RunOutcome[] = [];
    try {
      for (const due of await this.service.due(BATCH)) {
        try {
          const outcome = await this.service.run(due);
          this.report(outcome);
          outcomes.push(outcome);
        } catch (error) {
          // Not the change's fault (the database is unreachable): it stays pending for the next look.
          this.options.log?.warn({ err: error, schedule: due.id }, 'scheduled change: run failed; retrying at the next look');
        }
      }
    } catch (error) {
      this.options.log?.warn({ err: error }, 'scheduler: looking for due changes failed');
    }
    return outcomes;
  }

  private report(outcome: RunOutcome): void {
    const log = this.options.log;
    if (!log || outcome.kind === 'gone') return;
    const { schedule } = outcome;
    const fields = { schedule: schedule.id, flag: schedule.flagKey, environment: schedule.environment, lateByMs: schedule.lateByMs };
    if (outcome.kind === 'executed' && !outcome.late) log.info(fields, `scheduled change ${schedule.id} ran: ${schedule.outcome}`);
    else if (outcome.kind === 'executed') log.warn(fields, `scheduled change ${schedule.id} ran ${formatDuration(schedule.lateByMs ?? 0)} late: ${schedule.outcome}`);
    else log.warn(fields, `scheduled change ${schedule.id} ${outcome.kind}: ${schedule.outcome}`);
  }
}
