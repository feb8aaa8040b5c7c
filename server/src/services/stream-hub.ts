import type { RuleSetChange } from '../store/ports.js';

/**
 * Where a stream's bytes go: a `net.Socket` fits as is. The hub never touches HTTP, so it is tested
 * with plain objects.
 */
export interface StreamSink {
  /** false when the kernel buffer is full and the bytes were queued in user space. */
  write(chunk: Buffer): boolean;
  /** Bytes queued in user space and not yet handed to the kernel. */
  readonly writableLength: number;
  /** Polite close (shutdown): flush, then FIN. */
  end(): void;
  /** Drop now (a slow client): queued bytes are discarded. */
  destroy(): void;
}

/** The serialised current rule set, as `RuleSetCache.json` returns it. */
export interface Snapshot {
  version: number;
  body: string;
}

export interface StreamHubOptions {
  /** Changes kept per environment for `Last-Event-ID` resume. */
  changeLogSize?: number;
  /** A client with more queued bytes than this (beyond its first write) is dropped. */
  maxBacklogBytes?: number;
  /** Heartbeat comment period; 0 disables the hub's own timer (tests call `heartbeat()`). */
  heartbeatMs?: number;
}

export const DEFAULT_CHANGE_LOG_SIZE = 1000;
export const DEFAULT_MAX_BACKLOG_BYTES = 1024 * 1024;

const HEARTBEAT = Buffer.from(': heartbeat\n\n');
/**
 * Heartbeats are spread over this many ticks per period (each client in one slot), so 10,000
 * streams do not all get written at once: a change published during a heartbeat burst would
 * otherwise wait behind it.
 */
const HEARTBEAT_SLOTS = 16;
/** Below this period per slot, one tick serves every client (tests use very short periods). */
const MIN_TICK_MS = 25;

interface Client {
  sink: StreamSink;
  /** Which heartbeat tick of the period this client's heartbeat goes out on. */
  slot: number;
  /** Queued bytes above which the client is too slow: its first write may be a large snapshot. */
  limit: number;
}

interface LoggedChange {
  version: number;
  frame: Buffer;
}

interface Channel {
  clients: Set<Client>;
  /** Contiguous changes, oldest first; the last one is `latest`. */
  log: LoggedChange[];
  /** Version of the last change published, if any since start. */
  latest: number | undefined;
  /** The snapshot event, framed once per snapshot body (the cache serialises once per version). */
  snapshot: { body: string; frame: Buffer } | undefined;
}

/** What a connecting client gets first, before any live change. */
export type StreamStart =
  | { kind: 'resume'; frames: Buffer[] }
  | { kind: 'snapshot'; frames: Buffer[] };

export function patchEvent(change: RuleSetChange): string {
  const data = JSON.stringify({ version: change.version, flags: change.flags, segments: change.segments });
  return `event: patch\nid: ${change.version}\ndata: ${data}\n\n`;
}

export function snapshotEvent(snapshot: Snapshot): string {
  // JSON.stringify never emits a raw newline, so the body is one `data:` line.
  return `event: snapshot\nid: ${snapshot.version}\ndata: ${snapshot.body}\n\n`;
}

/**
 * Fan-out of rule-set changes to the SSE clients of each environment.
 *
 * Each change is serialised once per environment into one Buffer that is written to every client
 * and kept in a bounded change log, so a client reconnecting with `Last-Event-ID` gets only what it
 * missed. A client whose queued bytes exceed the backlog bound is dropped (it reconnects and
 * resumes); a dead client is removed by its owner through the function `subscribe` returns.
 */
export class StreamHub {
  private readonly channels = new Map<string, Channel>();
  private readonly changeLogSize: number;
  private readonly maxBacklogBytes: number;
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  private readonly slots: number;
  private tick = 0;
  private subscribed = 0;
  private closed = false;
  /** Clients dropped for being slow, since start (for tests and logs). */
  dropped = 0;

  constructor(options: StreamHubOptions = {}) {
    this.changeLogSize = Math.max(1, options.changeLogSize ?? DEFAULT_CHANGE_LOG_SIZE);
    this.maxBacklogBytes = options.maxBacklogBytes ?? DEFAULT_MAX_BACKLOG_BYTES;
    const heartbeatMs = options.heartbeatMs ?? 0;
    this.slots = Math.max(1, Math.min(HEARTBEAT_SLOTS, Math.floor(heartbeatMs / MIN_TICK_MS)));
    if (heartbeatMs > 0) {
      this.timer = setInterval(() => this.heartbeat(this.tick++ % this.slots), Math.max(1, Math.floor(heartbeatMs / this.slots)));
      this.timer.unref();
    }
  }

  private channel(environment: string): Channel {
    let channel = this.channels.get(environment);
    if (!channel) {
      channel = { clients: new Set(), log: [], latest: undefined, snapshot: undefined };
      this.channels.set(environment, channel);
    }
    return channel;
  }

  /** Serialise a committed change once, log it and write it to every client of its environment. */
  publish(change: RuleSetChange): void {
    const channel = this.channel(change.environment);
    const frame = Buffer.from(patchEvent(change));
    // Resume relies on the log holding every version after its first entry: a gap (or a version
    // going back, as when an environment is deleted and created again) starts it over.
    if (channel.latest !== undefined && change.version !== channel.latest + 1) channel.log.length = 0;
    channel.log.push({ version: change.version, frame });
    if (channel.log.length > this.changeLogSize) channel.log.shift();
    channel.latest = change.version;
    for (const client of channel.clients) this.send(channel, client, frame);
  }

  /** Frames after `version` if the log holds every one of them, else undefined. */
  private since(channel: Channel, version: number): Buffer[] | undefined {
    const { log, latest } = channel;
    if (latest === undefined || version > latest) return undefined;
    if (version === latest) return [];
    const first = log[0];
    if (!first || first.version > version + 1) return undefined;
    return log.slice(version + 1 - first.version).map((entry) => entry.frame);
  }

  private snapshotFrame(channel: Channel, snapshot: Snapshot): Buffer {
    if (channel.snapshot?.body !== snapshot.body) {
      channel.snapshot = { body: snapshot.body, frame: Buffer.from(snapshotEvent(snapshot)) };
    }
    return channel.snapshot.frame;
  }

  /**
   * What a client connecting with `lastEventId` must be sent first, given the current snapshot.
   * Returns undefined when the snapshot is older than changes already published and the log no
   * longer bridges the gap: read the snapshot again. Call `subscribe` in the same tick as this, so
   * no change is published in between.
   */
  start(environment: string, snapshot: Snapshot, lastEventId: number | undefined): StreamStart | undefined {
    const channel = this.channel(environment);
    const latest = channel.latest;
    const current = latest === undefined ? snapshot.version : Math.max(latest, snapshot.version);
    if (lastEventId !== undefined && lastEventId === current) return { kind: 'resume', frames: [] };
    // The log is only authoritative up to `current` when the hub has seen the newest change itself.
    if (lastEventId !== undefined && latest === current) {
      const frames = this.since(channel, lastEventId);
      if (frames) return { kind: 'resume', frames };
    }
    const frame = this.snapshotFrame(channel, snapshot);
    if (latest === undefined || latest <= snapshot.version) return { kind: 'snapshot', frames: [frame] };
    // The snapshot was read before changes the hub has already published: bring it up to date.
    const after = this.since(channel, snapshot.version);
    return after ? { kind: 'snapshot', frames: [frame, ...after] } : undefined;
  }

  /** Write `frames` and then every later change of `environment` to `sink`. Returns unsubscribe. */
  subscribe(environment: string, sink: StreamSink, frames: readonly Buffer[] = []): () => void {
    const channel = this.channel(environment);
    let initialBytes = 0;
    for (const frame of frames) initialBytes += frame.length;
    const client: Client = { sink, slot: this.subscribed++ % this.slots, limit: initialBytes + this.maxBacklogBytes };
    if (this.closed) {
      sink.end();
      return () => {};
    }
    channel.clients.add(client);
    for (const frame of frames) {
      if (!this.send(channel, client, frame)) break;
    }
    return () => {
      channel.clients.delete(client);
    };
  }

  /** Write to one client; drop it if its backlog is over the bound. false if it was dropped. */
  private send(channel: Channel, client: Client, frame: Buffer): boolean {
    const { sink } = client;
    if (sink.write(frame) || sink.writableLength <= client.limit) return true;
    channel.clients.delete(client);
    this.dropped++;
    sink.destroy();
    return false;
  }

  /**
   * A comment on every stream (or those in one slot): keeps proxies from timing out idle streams
   * and lets SDKs detect silence.
   */
  heartbeat(slot?: number): void {
    for (const channel of this.channels.values()) {
      for (const client of channel.clients) {
        if (slot === undefined || client.slot === slot) this.send(channel, client, HEARTBEAT);
      }
    }
  }

  /** Open streams per environment (environments that ever had one). */
  connections(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const [environment, channel] of this.channels) counts.set(environment, channel.clients.size);
    return counts;
  }

  /** End every stream (flush, FIN) and refuse new ones: graceful shutdown. Idempotent. */
  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const channel of this.channels.values()) {
      const clients = [...channel.clients];
      channel.clients.clear();
      for (const client of clients) client.sink.end();
    }
  }
}
