import { once } from 'node:events';
import { createServer, connect as connectSocket, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FeedEntry, RuleSetChange } from '../domain/feed.js';
import { StreamHub, type StreamSink } from './stream-hub.js';

/** A sink that records what it was given; `stuck` makes it behave like a full socket. */
class FakeSink implements StreamSink {
  chunks: Buffer[] = [];
  writableLength = 0;
  stuck = false;
  ended = false;
  destroyed = false;
  write(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    if (!this.stuck) return true;
    this.writableLength += chunk.length;
    return false;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString();
  }
  ids(): number[] {
    return [...this.text().matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
  }
}

const ENV = 'production';

function entry(seq: number, sdk: FeedEntry['sdk']): FeedEntry {
  return { seq, at: 0, writes: [], sdk, revoked: [], deliveries: false };
}

function change(version: number, environment = ENV): RuleSetChange {
  return { environment, version, flags: { [`flag_${version}`]: null }, segments: {} };
}

/** A snapshot at `version`, as RuleSetCache.json returns it. */
function snapshot(version: number) {
  return { version, body: JSON.stringify({ version, flags: {}, segments: {} }) };
}

function connect(hub: StreamHub, version: number, lastEventId?: number, env = ENV) {
  const sink = new FakeSink();
  const start = hub.start(env, snapshot(version), lastEventId);
  if (!start) throw new Error('no start');
  const unsubscribe = hub.subscribe(env, sink, start.frames);
  return { sink, start, unsubscribe };
}

/** Let the hub write what it published (never in the publisher's turn). */
const drained = async () => {
  for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
};

describe('StreamHub', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('sends a snapshot on connect, then every change as a patch', async () => {
    const hub = new StreamHub();
    const { sink, start } = connect(hub, 3);
    expect(start.kind).toBe('snapshot');
    hub.publish(change(4));
    await drained();
    expect(sink.text()).toBe(
      `event: snapshot\nid: 3\ndata: ${snapshot(3).body}\n\n` +
        'event: patch\nid: 4\ndata: {"version":4,"flags":{"flag_4":null},"segments":{}}\n\n',
    );
  });

  it('only sends an environment its own changes', async () => {
    const hub = new StreamHub();
    const prod = connect(hub, 3);
    const dev = connect(hub, 1, undefined, 'development');
    hub.publish(change(2, 'development'));
    hub.publish(change(4));
    await drained();
    expect(prod.sink.ids()).toEqual([3, 4]);
    expect(dev.sink.ids()).toEqual([1, 2]);
  });

  it('serialises each change once and writes the same Buffer to every client', async () => {
    const hub = new StreamHub();
    const sinks = Array.from({ length: 50 }, () => connect(hub, 3).sink);
    const stringify = vi.spyOn(JSON, 'stringify');
    hub.publish(change(4));
    await drained();
    expect(stringify).toHaveBeenCalledTimes(1);
    const patches = sinks.map((s) => s.chunks.at(-1));
    expect(new Set(patches).size).toBe(1);
    // The snapshot event is framed once per snapshot too.
    expect(new Set(sinks.map((s) => s.chunks[0])).size).toBe(1);
  });

  const resumeCases = [
    { name: 'an up-to-date client gets nothing', lastEventId: 10, expected: { kind: 'resume', ids: [] } },
    { name: 'a client behind by a few gets only the missed patches', lastEventId: 7, expected: { kind: 'resume', ids: [8, 9, 10] } },
    { name: 'a client just before the oldest logged change still resumes', lastEventId: 5, expected: { kind: 'resume', ids: [6, 7, 8, 9, 10] } },
    { name: 'a client older than the log gets a snapshot', lastEventId: 4, expected: { kind: 'snapshot', ids: [10] } },
    { name: 'a client ahead of the server (another database) gets a snapshot', lastEventId: 11, expected: { kind: 'snapshot', ids: [10] } },
  ] as const;

  for (const { name, lastEventId, expected } of resumeCases) {
    it(`Last-Event-ID: ${name}`, () => {
      const hub = new StreamHub({ changeLogSize: 5 });
      for (let v = 1; v <= 10; v++) hub.publish(change(v)); // the log keeps 6..10
      const { sink, start } = connect(hub, 10, lastEventId);
      expect(start.kind).toBe(expected.kind);
      expect(sink.ids()).toEqual(expected.ids);
    });
  }

  it('without any change seen, resumes only a client that is current', () => {
    const hub = new StreamHub();
    expect(connect(hub, 4, 4).sink.ids()).toEqual([]);
    expect(connect(hub, 4, 3).sink.ids()).toEqual([4]);
  });

  it('resumes across positions other environments used: ids are feed positions, not a count', () => {
    const hub = new StreamHub();
    for (const v of [3, 7, 12]) hub.publish(change(v));
    expect(connect(hub, 12, 3).sink.ids()).toEqual([7, 12]);
    expect(connect(hub, 12, 7).sink.ids()).toEqual([12]);
    expect(connect(hub, 12, 5).sink.ids()).toEqual([7, 12]);
    expect(connect(hub, 12, 12).sink.ids()).toEqual([]);
  });

  it('after a reset, resumes only what the history covers', () => {
    const hub = new StreamHub();
    const history = [96, 97, 98, 99, 100].map((seq) => entry(seq, { [ENV]: { flags: { [`flag_${seq}`]: null }, segments: {} } }));
    hub.onReset(100, history);
    expect(connect(hub, 100, 97).sink.ids()).toEqual([98, 99, 100]);
    expect(connect(hub, 100, 95).sink.ids()).toEqual([96, 97, 98, 99, 100]);
    expect(connect(hub, 100, 94).start.kind).toBe('snapshot');
    // A hub that saw nothing before its reset resumes nothing older than the reset.
    const fresh = new StreamHub();
    fresh.onReset(50, []);
    expect(connect(fresh, 50, 49).start.kind).toBe('snapshot');
    expect(connect(fresh, 50, 50).sink.ids()).toEqual([]);
  });

  it('a reset after the first ends the open streams politely (they may have missed changes)', () => {
    const hub = new StreamHub();
    hub.onReset(10, []);
    const a = connect(hub, 10);
    hub.onReset(20, []);
    expect(a.sink.ended).toBe(true);
    expect(hub.connections().get(ENV)).toBe(0);
  });

  it('cannot resume across an environment deleted and created again', () => {
    const hub = new StreamHub();
    hub.publish(change(10));
    hub.onEntry(entry(20, { [ENV]: null }));
    hub.publish(change(21));
    expect(connect(hub, 21, 10).start.kind).toBe('snapshot');
    expect(connect(hub, 21, 20).sink.ids()).toEqual([21]);
  });

  it('writes a change to many streams a bounded number per turn, every stream in publish order', async () => {
    const hub = new StreamHub({ writesPerTurn: 2 });
    const clients = [1, 2, 3, 4, 5].map(() => connect(hub, 1, 1));
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    hub.publish(change(2));
    // Nothing in the publisher's turn (the write answers first), then two streams per turn.
    expect(clients.map((c) => c.sink.ids())).toEqual([[], [], [], [], []]);
    await turn();
    expect(clients.map((c) => c.sink.ids())).toEqual([[2], [2], [], [], []]);
    // A change during the round: streams not yet written get both in one write; the others catch up after.
    hub.publish(change(3));
    for (let i = 0; i < 4; i++) await turn();
    for (const c of clients) expect(c.sink.ids()).toEqual([2, 3]);
    expect(clients.map((c) => c.sink.chunks.length)).toEqual([2, 2, 1, 1, 1]);
    // A client connecting meanwhile gets the changes from the log, not twice.
    const late = connect(hub, 1, 1);
    expect(late.sink.ids()).toEqual([2, 3]);
    await turn();
    expect(late.sink.ids()).toEqual([2, 3]);
  });

  it('sends a burst of changes to each stream in one write, the same Buffer for all', async () => {
    const hub = new StreamHub();
    const clients = Array.from({ length: 20 }, () => connect(hub, 1, 1));
    for (let v = 2; v <= 5; v++) hub.publish(change(v));
    await drained();
    for (const c of clients) {
      expect(c.sink.chunks).toHaveLength(1);
      expect(c.sink.ids()).toEqual([2, 3, 4, 5]);
    }
    expect(new Set(clients.map((c) => c.sink.chunks[0])).size).toBe(1);
  });

  it('yields to other work once a turn has written for turnMs', async () => {
    const hub = new StreamHub({ turnMs: 0 });
    const clients = Array.from({ length: 100 }, () => connect(hub, 1, 1));
    hub.publish(change(2));
    await new Promise((resolve) => setImmediate(resolve));
    const written = clients.filter((c) => c.sink.chunks.length > 0).length;
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(100);
    await drained();
    await drained();
    expect(clients.every((c) => c.sink.ids().join() === '2')).toBe(true);
  });

  it('drops a stream owed more changes than the log holds (it reconnects and reloads)', async () => {
    const hub = new StreamHub({ changeLogSize: 2 });
    const behind = connect(hub, 1, 1);
    for (let v = 2; v <= 5; v++) hub.publish(change(v));
    await drained();
    expect(behind.sink.destroyed).toBe(true);
    expect(behind.sink.ids()).toEqual([]);
    expect(hub.dropped).toBe(1);
  });

  it('brings an old snapshot up to date with the changes published since it was read', () => {
    const hub = new StreamHub();
    hub.publish(change(4));
    hub.publish(change(5));
    expect(connect(hub, 3).sink.ids()).toEqual([3, 4, 5]);
    // A client at 5 holding a snapshot read at 3: nothing to send.
    expect(connect(hub, 3, 5).sink.ids()).toEqual([]);
  });

  it('asks for a fresh snapshot when the log cannot bridge an old one', () => {
    const hub = new StreamHub({ changeLogSize: 2 });
    for (let v = 4; v <= 8; v++) hub.publish(change(v));
    expect(hub.start(ENV, snapshot(3), undefined)).toBeUndefined();
  });

  it('drops a client whose backlog exceeds the bound, without disturbing the others', async () => {
    const hub = new StreamHub({ maxBacklogBytes: 1000 });
    const slow = connect(hub, 3);
    const fast = connect(hub, 3);
    slow.sink.stuck = true;
    let v = 4;
    while (!slow.sink.destroyed && v < 100) {
      hub.publish(change(v++));
      await drained();
    }
    expect(slow.sink.destroyed).toBe(true);
    expect(slow.sink.writableLength).toBeGreaterThan(1000);
    expect(slow.sink.writableLength).toBeLessThan(1200);
    expect(hub.dropped).toBe(1);
    expect(hub.connections().get(ENV)).toBe(1);
    hub.publish(change(v));
    await drained();
    expect(fast.sink.ids().at(-1)).toBe(v);
    expect(slow.sink.ids().at(-1)).toBe(v - 1);
  });

  it('allows a large first snapshot beyond the bound, but not more on top of it', async () => {
    const hub = new StreamHub({ maxBacklogBytes: 100 });
    const sink = new FakeSink();
    sink.stuck = true;
    const big = { version: 3, body: JSON.stringify({ version: 3, flags: { x: 'y'.repeat(5000) }, segments: {} }) };
    hub.subscribe(ENV, sink, hub.start(ENV, big, undefined)!.frames);
    expect(sink.destroyed).toBe(false);
    hub.publish(change(4));
    hub.publish(change(5));
    await drained();
    expect(sink.destroyed).toBe(true);
  });

  it('keeps the change log bounded', () => {
    const hub = new StreamHub({ changeLogSize: 10 });
    for (let v = 1; v <= 1000; v++) hub.publish(change(v));
    expect(connect(hub, 1000, 989).start.kind).toBe('snapshot');
    expect(connect(hub, 1000, 990).sink.ids()).toHaveLength(10);
  });

  it('sends heartbeats to every client, and unsubscribed ones get nothing more', () => {
    const hub = new StreamHub();
    const a = connect(hub, 1);
    const b = connect(hub, 1, undefined, 'development');
    b.unsubscribe();
    hub.heartbeat();
    expect(a.sink.text().endsWith(': heartbeat\n\n')).toBe(true);
    expect(b.sink.text()).not.toContain('heartbeat');
    expect(hub.connections()).toEqual(new Map([[ENV, 1], ['development', 0]]));
  });

  it('heartbeats every client once per period on its own timer, spread over the period', () => {
    vi.useFakeTimers();
    try {
      // 15 s over 150 ticks of 100 ms: 300 clients, two per tick.
      const hub = new StreamHub({ heartbeatMs: 15_000 });
      const sinks = Array.from({ length: 300 }, () => connect(hub, 1).sink);
      const heartbeats = () => sinks.map((s) => s.text().match(/: heartbeat/g)?.length ?? 0);
      vi.advanceTimersByTime(100);
      expect(heartbeats().filter((n) => n === 1)).toHaveLength(2);
      vi.advanceTimersByTime(14_900);
      expect(heartbeats()).toEqual(sinks.map(() => 1));
      vi.advanceTimersByTime(15_000);
      expect(heartbeats()).toEqual(sinks.map(() => 2));
      hub.close();
      vi.advanceTimersByTime(30_000);
      expect(heartbeats()).toEqual(sinks.map(() => 2));
    } finally {
      vi.useRealTimers();
    }
  });

  it('close ends every stream and refuses new ones', () => {
    const hub = new StreamHub();
    const a = connect(hub, 1);
    hub.close();
    expect(a.sink.ended).toBe(true);
    const late = connect(hub, 1);
    expect(late.sink.ended).toBe(true);
    expect(late.sink.chunks).toEqual([]);
    expect(hub.connections().get(ENV)).toBe(0);
  });

  it('drops a real socket whose peer stops reading, while a reading peer gets everything', async () => {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const accepted: Socket[] = [];
    server.on('connection', (socket) => accepted.push(socket));
    const stalled = connectSocket(port, '127.0.0.1');
    const reading = connectSocket(port, '127.0.0.1');
    stalled.pause();
    let received = 0;
    reading.on('data', (chunk: Buffer) => (received += chunk.length));
    await Promise.all([once(stalled, 'connect'), once(reading, 'connect')]);
    await vi.waitFor(() => expect(accepted).toHaveLength(2));
    try {
      const hub = new StreamHub({ maxBacklogBytes: 256 * 1024 });
      const sides = accepted.map((socket) => ({ socket, closed: once(socket, 'close') }));
      for (const { socket } of sides) hub.subscribe(ENV, socket, hub.start(ENV, snapshot(1), undefined)!.frames);
      // Which accepted socket is the stalled peer's is not known: both get the same bytes until one is dropped.
      const big = (v: number): RuleSetChange => ({ environment: ENV, version: v, flags: { [`f${v}`]: null }, segments: { s: { key: 's', padding: 'x'.repeat(64 * 1024) } as never } });
      let sent = 0;
      for (let v = 2; v < 2000 && hub.dropped === 0; v++) {
        hub.publish(big(v));
        sent += 64 * 1024;
        await new Promise((resolve) => setImmediate(resolve)); // let the reading peer drain
      }
      expect(hub.dropped).toBe(1);
      expect(hub.connections().get(ENV)).toBe(1);
      await Promise.race(sides.map((side) => side.closed));
      await vi.waitFor(() => expect(received).toBeGreaterThan(sent * 0.9), { timeout: 5_000 });
    } finally {
      stalled.destroy();
      reading.destroy();
      for (const socket of accepted) socket.destroy();
      server.close();
    }
  });
});
