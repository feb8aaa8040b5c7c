/**
 * Child process of the server benchmarks (see stream-clients.ts): holds N raw SSE connections (one
 * socket each, no keep-alive pool), spread round-robin over one or more servers, and reports when
 * each patch reached each of them. Driven over IPC.
 *
 * A patch is known by its `id:` — a change-feed position, the same on every replica — so the
 * clients of three replicas are matched on it. Timestamps are `performance.timeOrigin +
 * performance.now()`, comparable with the parent's; they are taken when the socket's data event
 * runs, so they include this process's own turn (the same for every server measured).
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export type ClientCommand =
  /** Open `count` streams; stream i (counted from `offset`) goes to `urls[i % urls.length]`. */
  | { type: 'connect'; urls: string[]; offset: number; path: string; sdkKey: string; count: number }
  /** Wait for the first patch with an id above `after`, then for it at every stream; latencies from `since`. */
  | { type: 'collect'; after: number; since: number; timeoutMs: number }
  /** Patches received per stream since connecting: lowest and highest count, and the newest id seen. */
  | { type: 'tally' }
  | { type: 'close' };

export type ClientReply =
  | { type: 'connected'; count: number; failed: number }
  | { type: 'collected'; version: number | undefined; latencies: number[]; missing: number; patchData: string | undefined }
  | { type: 'tallied'; fewest: number; most: number; newest: number }
  | { type: 'closed' }
  | { type: 'error'; message: string };

const CONNECT_CONCURRENCY = 200;
const PATCH_MARK = 'event: patch\nid: ';
/** Enough of the previous chunk to find a marker split across two chunks. */
const CARRY = 64;

interface Client {
  socket: Socket;
  index: number;
  ready: boolean;
  carry: string;
  patches: number;
}

const now = (): number => performance.timeOrigin + performance.now();

let clients: Client[] = [];
/** version → arrival time per client index (NaN until it arrives) and how many arrived. */
const arrivals = new Map<number, { times: Float64Array; arrived: number }>();
let count = 0;
let newest = 0;
let lastPatchData: string | undefined;
const waiters = new Set<() => void>();

function send(reply: ClientReply): void {
  // The parent may be gone (interrupted): then there is nobody to tell, and nothing left to do.
  if (!process.connected) return process.exit(0);
  process.send!(reply, undefined, undefined, (error) => {
    if (error) process.exit(0);
  });
}

function wake(): void {
  for (const waiter of waiters) waiter();
}

function onData(client: Client, chunk: Buffer): void {
  const at = now();
  const text = client.carry + chunk.toString('latin1');
  if (!client.ready && text.includes('event: snapshot')) {
    client.ready = true;
    wake();
  }
  let from = 0;
  let i: number;
  while ((i = text.indexOf(PATCH_MARK, from)) >= 0) {
    const end = text.indexOf('\n', i + PATCH_MARK.length);
    if (end < 0) break; // the id is split: the carry keeps it for the next chunk
    const version = Number(text.slice(i + PATCH_MARK.length, end));
    let entry = arrivals.get(version);
    if (!entry) {
      entry = { times: new Float64Array(count).fill(Number.NaN), arrived: 0 };
      arrivals.set(version, entry);
    }
    if (Number.isNaN(entry.times[client.index]!)) {
      entry.times[client.index] = at;
      entry.arrived++;
      client.patches++;
      if (version > newest) newest = version;
    }
    if (client.index === 0) {
      const dataEnd = text.indexOf('\n', end + 1);
      if (dataEnd > 0) lastPatchData = Buffer.from(text.slice(end + 1 + 'data: '.length, dataEnd), 'latin1').toString('utf8');
    }
    from = end + 1;
    wake();
  }
  // Keep an unconsumed tail (a marker may be split across chunks), never a consumed marker.
  client.carry = text.slice(Math.max(from, text.length - CARRY));
}

function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (check()) return resolve(true);
    const waiter = () => {
      if (!check()) return;
      clearTimeout(timer);
      waiters.delete(waiter);
      resolve(true);
    };
    const timer = setTimeout(() => {
      waiters.delete(waiter);
      resolve(false);
    }, timeoutMs);
    waiters.add(waiter);
  });
}

function open(url: string, request: string, index: number): Promise<Client | undefined> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port), noDelay: true });
    const client: Client = { socket, index, ready: false, carry: '', patches: 0 };
    const fail = () => resolve(undefined);
    socket.once('error', fail);
    socket.once('close', fail);
    socket.on('data', (chunk: Buffer) => {
      onData(client, chunk);
      if (client.ready) resolve(client);
    });
    socket.write(request);
  });
}

async function connectAll(urls: string[], offset: number, path: string, sdkKey: string, total: number): Promise<ClientReply> {
  const requests = urls.map((url) => {
    const { host } = new URL(url);
    return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${sdkKey}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n`;
  });
  count = total;
  arrivals.clear();
  newest = 0;
  clients = [];
  let failed = 0;
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const index = next++;
      const server = (offset + index) % urls.length;
      const client = await open(urls[server]!, requests[server]!, index);
      if (client) clients[index] = client;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, total) }, worker));
  return { type: 'connected', count: clients.filter(Boolean).length, failed };
}

/** The lowest patch id above `after` that any stream has received. */
function firstAfter(after: number): number | undefined {
  let first: number | undefined;
  for (const version of arrivals.keys()) if (version > after && (first === undefined || version < first)) first = version;
  return first;
}

async function collect(after: number, since: number, timeoutMs: number): Promise<ClientReply> {
  const deadline = now() + timeoutMs;
  const live = clients.filter((c) => c !== undefined && !c.socket.destroyed);
  await waitFor(() => firstAfter(after) !== undefined, timeoutMs);
  const version = firstAfter(after);
  if (version !== undefined) await waitFor(() => arrivals.get(version)!.arrived >= live.length, Math.max(0, deadline - now()));
  const times = version === undefined ? undefined : arrivals.get(version)!.times;
  const latencies: number[] = [];
  let missing = 0;
  for (const client of clients) {
    if (!client) continue;
    const t = times?.[client.index] ?? Number.NaN;
    if (Number.isNaN(t)) missing++;
    else latencies.push(t - since);
  }
  for (const seen of arrivals.keys()) if (version !== undefined && seen <= version) arrivals.delete(seen);
  return { type: 'collected', version, latencies, missing, patchData: lastPatchData };
}

function tally(): ClientReply {
  let fewest = Number.POSITIVE_INFINITY;
  let most = 0;
  for (const client of clients) {
    if (!client) continue;
    fewest = Math.min(fewest, client.patches);
    most = Math.max(most, client.patches);
  }
  // Forget per-patch arrivals nobody collects (a benchmark that only counts), or they pile up.
  arrivals.clear();
  return { type: 'tallied', fewest: Number.isFinite(fewest) ? fewest : 0, most, newest };
}

async function closeAll(): Promise<ClientReply> {
  await Promise.all(
    clients.filter(Boolean).map(
      (client) =>
        new Promise<void>((resolve) => {
          if (client.socket.destroyed) return resolve();
          client.socket.once('close', () => resolve());
          client.socket.destroy();
        }),
    ),
  );
  clients = [];
  arrivals.clear();
  return { type: 'closed' };
}

process.on('message', (message: ClientCommand) => {
  const run = async (): Promise<ClientReply> => {
    switch (message.type) {
      case 'connect':
        return connectAll(message.urls, message.offset, message.path, message.sdkKey, message.count);
      case 'collect':
        return collect(message.after, message.since, message.timeoutMs);
      case 'tally':
        return tally();
      case 'close':
        return closeAll();
    }
  };
  run().then(send, (error: unknown) => send({ type: 'error', message: String(error) }));
});
process.on('disconnect', () => process.exit(0));
