import { pruneEvaluations } from './evaluations.service.js';
import type { Logger } from './logger.js';
import { PeriodicLoop } from './periodic-loop.js';
import type { Writes } from './write.js';

/** How long change-feed entries are kept: enough for SDKs to resume after a long outage. */
export const FEED_RETENTION_MS = 7 * 24 * 60 * 60_000;
/** Entries kept whatever their age: replicas starting up replay this many into their stream logs. */
export const FEED_KEEP = 10_000;
const EVERY_MS = 60 * 60_000;

/**
 * Housekeeping the leader does once an hour, for the whole cluster: prune the change feed, expired
 * dashboard sessions, and evaluation insights past their retention. Deleting old rows is safe from
 * any replica, but one is enough.
 */
export class Maintenance {
  private readonly loop = new PeriodicLoop(EVERY_MS, () => this.prune());

  constructor(
    private readonly w: Writes,
    private readonly log: Logger,
    private readonly retention = { ms: FEED_RETENTION_MS, keep: FEED_KEEP },
  ) {}

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  run(): Promise<void> {
    return this.loop.tick();
  }

  private async prune(): Promise<void> {
    try {
      const now = this.w.now();
      const pruned = await this.w.db.transaction(async (tx) => {
        await this.w.repos.sessions.deleteExpired(tx, now);
        await pruneEvaluations(this.w, tx, now);
        return this.w.repos.feed.prune(tx, now - this.retention.ms, this.retention.keep);
      });
      if (pruned > 0) this.log.info({ pruned }, 'change feed: pruned old entries');
    } catch (error) {
      this.log.warn({ err: error }, 'maintenance failed');
    }
  }
}
