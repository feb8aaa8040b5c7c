import { ruleSetChanges, type FeedEntry, type RuleSetChange } from '../domain/feed.js';
import { screenedChange } from './pattern-safety.js';
import { patchEvent, snapshotEvent, type Snapshot, type StreamSink, type StreamStart } from './stream-events.js';

export type { Snapshot, StreamSink, StreamStart } from './stream-events.js';

export interface StreamHubOptions {
  /** Changes kept per environment for `Last-Event-ID` resume. */
  changeLogSize?: number;
  /** A client with more queued bytes than this (beyond its first write) is dropped. */
  maxBacklogBytes?: number;
  /** Heartbeat comment period; 0 disables the hub's own timer (tests call `heartbeat()`). */
  heartbeatMs?: number;
  /**
   * Streams written per turn of the event loop, at most — and at most `turnMs` of writing: a change
   * to 10,000 streams never stalls requests for long.
   */
  writesPerTurn?: number;
  turnMs?: number;
}

export const DEFAULT_CHANGE_LOG_SIZE = 1000;
export const DEFAULT_MAX_BACKLOG_BYTES = 1024 * 1024;
const DEFAULT_WRITES_PER_TURN = 1000;
const DEFAULT_TURN_MS = 0.5;
/** How many writes between two looks at the clock. */
const CLOCK_EVERY = 16;

const HEARTBEAT = Buffer.from(': heartbeat\n\n');
/**
 * Heartbeats are spread over this many ticks per period (each client in one slot), so 10,000
 * streams do not all get written at once: a request arriving during a heartbeat burst would wait
 * behind it. At the default 15 s, a tick every 100 ms writes ~70 of 10,000 streams (~1 ms).
 */
const HEARTBEAT_SLOTS = 150;
/** Below this period per slot, one tick serves every client (tests use very short periods). */
const MIN_TICK_MS = 25;

interface Client {
  sink: StreamSink;
  channel: Channel;
  /** Which heartbeat tick of the period this client's heartbeat goes out on. */
  slot: number;
  /** Queued bytes above which the client is too slow: its first write may be a large snapshot. */
  limit: number;
  /** Unsubscribed or dropped: pending fan-outs skip it. */
  gone: boolean;
  /** The version of the last change written (or owed nothing before): it is owed every later one. */
  sent: number;
}

interface LoggedChange {
  version: number;
  change: RuleSetChange;
  /** Serialised when first needed: with no stream open, a change costs no serialisation. */
  frame: Buffer | undefined;
}

interface Channel {
  clients: Set<Client>;
  /** Changes, oldest first. Versions are feed positions: increasing, not contiguous. */
  log: LoggedChange[];
  /** Every change to this environment after this position is in `log`. */
  floor: number;
  /** The snapshot event, framed once per snapshot body (the cache serialises once per version). */
  snapshot: { body: string; frame: Buffer } | undefined;
  /** The newest version the log's size bound pushed out: a client that has not got it fell behind. */
  trimmed: number;
  /** The pass writing to this channel's clients now or next; `again`: start another when it ends. */
  pass: Pass | undefined;
  again: boolean;
}

/**
 * One round over a channel's clients, writing each what it is owed: every change after its `sent`,
 * in one write. Changes published during a round reach the clients it has yet to visit in the same
 * write; the next round brings the others up to date. So a burst of changes costs each stream one
 * write, not one per change.
 */
interface Pass {
  clients: Client[];
  next: number;
  /** Concatenated frames by starting version, for a log ending at `end` (shared by every client alike). */
  batches: Map<number, Buffer>;
  end: number;
}

/**
 * Fan-out of rule-set changes to the SSE clients of each environment, fed by the change feed.
 *
 * Each change is serialised once into one Buffer, written to every client and kept in a bounded
 * log per environment, so a client reconnecting with `Last-Event-ID` — a feed position, the same on
 * every replica — gets only what it missed. Writing happens after the write that caused it has
 * answered, in rounds over each environment's streams, a bounded number (and time) per turn of the
 * event loop: each stream gets everything it is owed in one write, so changes arriving faster than a
 * round over 10,000 streams takes are batched rather than queued. A client whose queued bytes exceed
 * the backlog bound is dropped (it reconnects and resumes).
 */
export class StreamHub {
  private readonly channels = new Map<string, Channel>();
  private readonly changeLogSize: number;
  private readonly maxBacklogBytes: number;
  private readonly writesPerTurn: number;
  private readonly turnMs: number;
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  private readonly slots: number;
  /** Channels with a pass to run, in the order their changes came. */
  private readonly passes: Channel[] = [];
  private draining = false;
  /** Every change after this position has been seen (see `reset`). */
  private coveredFrom = 0;
  private resets = 0;
  private tick = 0;
  private subscribed = 0;
  private closed = false;
  /** Clients dropped for being slow, since start (for tests and logs). */
  dropped = 0;

  constructor(options: StreamHubOptions = {}) {
    this.changeLogSize = Math.max(1, options.changeLogSize ?? DEFAULT_CHANGE_LOG_SIZE);
    this.maxBacklogBytes = options.maxBacklogBytes ?? DEFAULT_MAX_BACKLOG_BYTES;
    this.writesPerTurn = Math.max(1, options.writesPerTurn ?? DEFAULT_WRITES_PER_TURN);
    this.turnMs = options.turnMs ?? DEFAULT_TURN_MS;
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
      channel = { clients: new Set(), log: [], floor: this.coveredFrom, snapshot: undefined, trimmed: 0, pass: undefined, again: false };
      this.channels.set(environment, channel);
    }
    return channel;
  }

  private log(channel: Channel, change: RuleSetChange): LoggedChange {
    const logged: LoggedChange = { version: change.version, change, frame: undefined };
    channel.log.push(logged);
    if (channel.log.length > this.changeLogSize) channel.floor = channel.trimmed = channel.log.shift()!.version;
    return logged;
  }

  private frameOf(logged: LoggedChange): Buffer {
    return (logged.frame ??= Buffer.from(patchEvent(logged.change)));
  }

  /** Log a committed change and write it, serialised once, to every client of its environment. */
  publish(change: RuleSetChange): void {
    const channel = this.channel(change.environment);
    this.log(channel, change);
    if (channel.clients.size === 0) return;
    if (channel.pass) {
      // Clients the running pass has visited are owed this one: another pass follows.
      if (channel.pass.next > 0) channel.again = true;
    } else {
      channel.pass = { clients: [...channel.clients], next: 0, batches: new Map(), end: 0 };
      this.passes.push(channel);
    }
    // Never in the caller's turn: the write that caused the change answers first.
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => this.drain());
    }
  }

  /** Run pending passes in order, for at most `writesPerTurn` streams and `turnMs`; the rest on a later turn. */
  private drain(): void {
    const started = performance.now();
    let written = 0;
    while (this.passes.length > 0) {
      const channel = this.passes[0]!;
      const pass = channel.pass!;
      while (pass.next < pass.clients.length) {
        if (written >= this.writesPerTurn || (written % CLOCK_EVERY === CLOCK_EVERY - 1 && performance.now() - started >= this.turnMs)) {
          setImmediate(() => this.drain());
          return;
        }
        if (this.bringUpToDate(pass.clients[pass.next++]!, pass)) written++;
      }
      this.passes.shift();
      channel.pass = undefined;
      if (channel.again) {
        channel.again = false;
        channel.pass = { clients: [...channel.clients], next: 0, batches: new Map(), end: 0 };
        this.passes.push(channel);
      }
    }
    this.draining = false;
  }

  /** Write `client` every change after its `sent`, in one write. false if there was nothing to write. */
  private bringUpToDate(client: Client, pass: Pass | undefined): boolean {
    const { channel } = client;
    const end = channel.log.at(-1)?.version ?? 0;
    if (client.gone || client.sent >= end) return false;
    if (client.sent < channel.trimmed) {
      // Missed changes the log no longer holds (a very slow reader): drop it; it resumes or reloads.
      this.drop(client);
      return true;
    }
    let batch = pass?.end === end ? pass.batches.get(client.sent) : undefined;
    if (!batch) {
      let first = channel.log.length;
      while (first > 0 && channel.log[first - 1]!.version > client.sent) first--;
      const frames = channel.log.slice(first).map((logged) => this.frameOf(logged));
      batch = frames.length === 1 ? frames[0]! : Buffer.concat(frames);
      if (pass) {
        if (pass.end !== end) pass.batches.clear();
        pass.end = end;
        pass.batches.set(client.sent, batch);
      }
    }
    client.sent = end;
    this.send(client, batch);
    return true;
  }

  /** A feed entry: publish its patches; an environment that appeared or went starts over. */
  onEntry(entry: FeedEntry): void {
    for (const [environment, patch] of Object.entries(entry.sdk)) {
      if (patch === null) this.restartChannel(environment, entry.seq);
    }
    for (const change of ruleSetChanges(entry)) this.publish(screenedChange(change));
  }

  /** Nothing before `position` can be resumed across in this environment (it was created or deleted). */
  private restartChannel(environment: string, position: number): void {
    const channel = this.channel(environment);
    // What its streams are still owed goes out first (rare: an environment appeared or went).
    for (const client of channel.clients) this.bringUpToDate(client, undefined);
    channel.log = [];
    channel.trimmed = 0;
    channel.floor = position;
    channel.snapshot = undefined;
  }

  /**
   * The feed (re)starts at `position`, with `history` — the entries just before it — to resume
   * from. On a restart (not the first), streams may have missed changes: they are ended politely and
   * reconnect, resuming or getting a snapshot.
   */
  onReset(position: number, history: readonly FeedEntry[]): void {
    if (this.resets++ > 0) this.endAll();
    this.coveredFrom = history.length > 0 ? history[0]!.seq - 1 : position;
    for (const channel of this.channels.values()) {
      channel.log = [];
      channel.trimmed = 0;
      channel.floor = this.coveredFrom;
      channel.snapshot = undefined;
    }
    for (const entry of history) {
      for (const [environment, patch] of Object.entries(entry.sdk)) if (patch === null) this.restartChannel(environment, entry.seq);
      for (const change of ruleSetChanges(entry)) this.log(this.channel(change.environment), screenedChange(change));
    }
  }

  /** Frames after `version`, when the log holds every change after it. */
  private since(channel: Channel, version: number): Buffer[] | undefined {
    if (version < channel.floor) return undefined;
    const frames: Buffer[] = [];
    for (const entry of channel.log) if (entry.version > version) frames.push(this.frameOf(entry));
    return frames;
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
   *
   * A client ahead of everything this replica knows gets a snapshot: the caller waits for the feed
   * first (another replica may simply have been quicker); after that, it means the database went
   * back to an older backup, and the client must follow it.
   */
  start(environment: string, snapshot: Snapshot, lastEventId: number | undefined): StreamStart | undefined {
    const channel = this.channel(environment);
    const latest = channel.log.at(-1)?.version;
    const current = Math.max(latest ?? 0, snapshot.version);
    if (lastEventId !== undefined && lastEventId === current) return { kind: 'resume', frames: [] };
    // The log knows what happened up to `current` only when the newest change is its own.
    if (lastEventId !== undefined && lastEventId < current && latest === current) {
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
    // `frames` bring it up to everything published so far (`start` was called in this same tick).
    const sent = channel.log.at(-1)?.version ?? 0;
    const client: Client = { sink, channel, slot: this.subscribed++ % this.slots, limit: initialBytes + this.maxBacklogBytes, gone: false, sent };
    if (this.closed) {
      sink.end();
      return () => {};
    }
    channel.clients.add(client);
    if (frames.length > 0) this.send(client, frames.length === 1 ? frames[0]! : Buffer.concat(frames));
    return () => {
      client.gone = true;
      channel.clients.delete(client);
    };
  }

  /** Write to one client; drop it if its backlog is over the bound. */
  private send(client: Client, frame: Buffer): void {
    if (!client.sink.write(frame) && client.sink.writableLength > client.limit) this.drop(client);
  }

  private drop(client: Client): void {
    client.gone = true;
    client.channel.clients.delete(client);
    this.dropped++;
    client.sink.destroy();
  }

  /**
   * A comment on every stream (or those in one slot): keeps proxies from timing out idle streams
   * and lets SDKs detect silence.
   */
  heartbeat(slot?: number): void {
    for (const channel of this.channels.values()) {
      for (const client of channel.clients) {
        if (slot === undefined || client.slot === slot) this.send(client, HEARTBEAT);
      }
    }
  }

  /** Open streams per environment (environments that ever had one). */
  connections(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const [environment, channel] of this.channels) counts.set(environment, channel.clients.size);
    return counts;
  }

  /** End every open stream politely (flush, FIN): their SDKs reconnect at once. */
  private endAll(): void {
    for (const channel of this.channels.values()) {
      const clients = [...channel.clients];
      channel.clients.clear();
      for (const client of clients) {
        client.gone = true;
        client.sink.end();
      }
    }
  }

  /** End every stream and refuse new ones: graceful shutdown. Idempotent. */
  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.passes.length = 0;
    this.endAll();
  }
}
