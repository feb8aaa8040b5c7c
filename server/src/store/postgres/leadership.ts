import pg from 'pg';
import type { Leadership } from '../ports.js';
import { CONNECT_TIMEOUT_MS } from './connection.js';

const DEFAULT_POLL_MS = 2000;

/**
 * Leadership by a session-level advisory lock, held on a dedicated connection. The lock lives as
 * long as that connection: when a leader dies, PostgreSQL releases it as soon as the connection
 * closes (at once for a killed process; within ~11 s through TCP keepalives for a vanished host),
 * and another replica — trying every `pollMs` — takes over. A leader whose connection fails steps
 * down at once, before anything else could take over.
 */
export class AdvisoryLeadership implements Leadership {
  private client: pg.Client | undefined;
  private leader = false;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private attempting: Promise<void> | null = null;
  private readonly listeners = new Set<(leader: boolean) => void>();

  constructor(
    private readonly url: string,
    private readonly key: number,
    private readonly pollMs = DEFAULT_POLL_MS,
  ) {}

  isLeader(): boolean {
    return this.leader;
  }

  onChange(listener: (leader: boolean) => void): () => void {
    this.listeners.add(listener);
    if (this.leader) listener(true);
    return () => this.listeners.delete(listener);
  }

  private set(leader: boolean): void {
    if (this.leader === leader) return;
    this.leader = leader;
    for (const listener of this.listeners) listener(leader);
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.attempt();
    this.timer = setInterval(() => void this.attempt(), this.pollMs);
    this.timer.unref();
  }

  private attempt(): Promise<void> {
    this.attempting ??= this.tryAcquire().finally(() => {
      this.attempting = null;
    });
    return this.attempting;
  }

  private async tryAcquire(): Promise<void> {
    if (!this.running || this.leader) return;
    try {
      if (!this.client) {
        const client = new pg.Client({ connectionString: this.url, application_name: 'switchyard-leader', keepAlive: true, keepAliveInitialDelayMillis: 5000, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
        client.on('error', () => this.lost(client));
        client.on('end', () => this.lost(client));
        await client.connect();
        // The server notices a vanished leader host within ~11 s instead of the OS default of hours.
        await client.query('SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3');
        this.client = client;
      }
      const { rows } = await this.client.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [this.key]);
      if (rows[0]?.locked && this.running) this.set(true);
    } catch {
      // Unreachable or connection lost: try again at the next poll.
      this.lost(this.client);
    }
  }

  private lost(client: pg.Client | undefined): void {
    if (client !== this.client && client !== undefined) return;
    const old = this.client;
    this.client = undefined;
    this.set(false);
    void old?.end().catch(() => {});
  }

  /** Step down (work stops first), then release the lock by closing its connection. */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.timer);
    await this.attempting;
    this.set(false);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }
}
