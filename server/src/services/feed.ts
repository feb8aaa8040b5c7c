import type { FeedEntry } from '../domain/feed.js';
import type { Writes } from './write.js';

export interface FeedListener {
  /** Every committed change, once, in feed order. */
  onEntry?(entry: FeedEntry): void;
  /**
   * The follower (re)starts at `position` without the entries before it: at start, or when it
   * could not follow without a gap (it fell behind the feed's retention, or the database went back
   * to an older backup). Caches must forget what they hold; `history` is the last stretch of the
   * feed, for resuming SDK streams, and is not to be acted on as new changes.
   */
  onReset?(position: number, history: readonly FeedEntry[]): void;
}

export interface FollowerOptions {
  /** The safety net: how often to look for entries without a wake-up (a lost NOTIFY, a reconnect). */
  pollMs?: number;
  /** Entries read per round trip. */
  batch?: number;
  /** Entries before the head handed to `reset` as history (bounded by the feed's retention). */
  history?: number;
  log?: (message: string, error?: unknown) => void;
}

const DEFAULT_POLL_MS = 2000;
const DEFAULT_BATCH = 500;
const DEFAULT_HISTORY = 1000;
/** How long a writer waits for the entries before its own to arrive before reading the feed. */
const OWN_ENTRY_GRACE_MS = 20;

/**
 * Follows the change feed: how this replica learns of every committed change — its own writes
 * included. Woken by the database (an in-process signal on SQLite, LISTEN/NOTIFY on PostgreSQL), it
 * reads every entry after its position in order, so a lost wake-up or a reconnect loses nothing;
 * a slow periodic read is the safety net.
 */
export class FeedFollower {
  /** The last position applied. */
  position = 0;
  private readonly listeners: FeedListener[] = [];
  private reading: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private started = false;
  private healthy = false;
  /** Writers waiting for their own commit to be applied here, by position. */
  private waiting: { position: number; resolve: () => void }[] = [];

  constructor(
    private readonly w: Writes,
    private readonly options: FollowerOptions = {},
  ) {}

  /** Listeners are called in the order they subscribed (the rule-set cache first). */
  subscribe(listener: FeedListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Start at the current head, then follow. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.unsubscribe = this.w.db.onFeed((entry) => this.wake(entry));
    await this.restart();
    this.timer = setInterval(() => this.wake(), this.options.pollMs ?? DEFAULT_POLL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.started = false;
    clearInterval(this.timer);
    this.unsubscribe?.();
    await this.reading;
    for (const waiter of this.waiting.splice(0)) waiter.resolve();
  }

  /** Caught up as of the last read, which succeeded: what `/readyz` reports. */
  get ready(): boolean {
    return this.started && this.healthy;
  }

  /**
   * Read new entries soon; calls during a read coalesce into one more round. A wake-up carrying
   * the very next entry (PostgreSQL sends small ones with the notification, in commit order) is
   * applied as it is, with no read; anything else — a gap, a read under way — reads the feed.
   */
  wake(entry?: FeedEntry): void {
    if (!this.started) return;
    if (entry !== undefined && this.reading === null) {
      if (entry.seq <= this.position) return;
      if (entry.seq === this.position + 1) return this.apply([entry]);
    }
    void this.catchUp();
  }

  private apply(entries: readonly FeedEntry[]): void {
    for (const entry of entries) {
      for (const listener of this.listeners) {
        try {
          listener.onEntry?.(entry);
        } catch (error) {
          this.options.log?.(`change feed: a listener failed on entry ${entry.seq}`, error);
        }
      }
      this.position = entry.seq;
    }
    this.release();
  }

  catchUp(): Promise<void> {
    if (this.reading) {
      this.again = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.again = false;
        await this.readNew();
      } while (this.again && this.started);
    })()
      .then(
        () => {
          this.healthy = true;
        },
        (error: unknown) => {
          this.healthy = false;
          this.options.log?.('change feed: read failed; retrying', error);
        },
      )
      .finally(() => {
        this.reading = null;
      });
    return this.reading;
  }

  /**
   * Resolves once this replica has applied `position` — a position known to be committed (a write's
   * own, with its `entry`). Waiting writers are released batch by batch, never behind later writers'
   * entries. A writer's own entry that is the next position is applied at once; otherwise the
   * entries before it are on their way (a notification, or the local commit's wake-up), and the
   * feed is read if they have not come within a moment.
   */
  applied(position: number, entry?: FeedEntry): Promise<void> {
    if (this.position >= position || !this.started) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiting.push({ position, resolve });
      if (entry !== undefined && entry.seq === position) this.wake(entry);
      if (this.position < position) {
        setTimeout(() => {
          if (this.position < position) this.wake();
        }, OWN_ENTRY_GRACE_MS).unref();
      }
    });
  }

  private release(): void {
    if (this.waiting.length === 0) return;
    const still: typeof this.waiting = [];
    for (const waiter of this.waiting) {
      if (waiter.position <= this.position) waiter.resolve();
      else still.push(waiter);
    }
    this.waiting = still;
  }

  /**
   * Whether this replica has applied `position`, after reading the feed up to its head once more:
   * false means the position is beyond anything committed (a client that saw a newer database).
   */
  async reached(position: number): Promise<boolean> {
    if (this.position >= position) return true;
    if (!this.started) return false;
    await this.catchUp();
    return this.position >= position;
  }

  /** Begin again at the head, handing listeners the recent history. */
  private async restart(): Promise<void> {
    const { feed } = this.w.repos;
    const history = this.options.history ?? DEFAULT_HISTORY;
    const { head, entries } = await this.w.read(async (tx) => {
      const head = await feed.head(tx);
      return { head, entries: history > 0 ? await feed.after(tx, Math.max(0, head - history), history) : [] };
    });
    this.position = head;
    this.healthy = true;
    for (const listener of this.listeners) listener.onReset?.(head, entries);
    this.release();
  }

  private async readNew(): Promise<void> {
    const { feed } = this.w.repos;
    const batch = this.options.batch ?? DEFAULT_BATCH;
    for (;;) {
      const from = this.position;
      // The head is only needed to notice a database that went back (nothing after our position).
      const { entries, head } = await this.w.db.peek(async (tx) => {
        const entries = await feed.after(tx, from, batch);
        return { entries, head: entries.length > 0 ? entries[entries.length - 1]!.seq : await feed.head(tx) };
      });
      if (this.position !== from) return; // a restart happened meanwhile
      if (head < from || (entries.length > 0 && entries[0]!.seq !== from + 1)) {
        // Behind the retention (entries pruned) or ahead of the database (restored from a backup).
        this.options.log?.(`change feed: cannot follow from position ${from} (head ${head}); starting over`);
        await this.restart();
        return;
      }
      this.apply(entries);
      if (entries.length < batch) return;
    }
  }
}
