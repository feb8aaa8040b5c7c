/**
 * Child process of the propagation benchmark: holds N raw SSE connections (one socket each, no
 * keep-alive pool) and reports, per patch version, when it reached each of them. Driven over IPC.
 * Timestamps are `performance.timeOrigin + performance.now()`, comparable with the parent's.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export type ClientCommand =
  | { type: 'connect'; url: string; path: string; sdkKey: string; count: number }
  | { type: 'collect'; version: number; since: number; timeoutMs: number }
  | { type: 'close' };

export type ClientReply =
  | { type: 'connected'; count: number; failed: number }
  | { type: 'collected'; version: number; latencies: number[]; missing: number; patchData: string | undefined }
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
}

const now = (): number => performance.timeOrigin + performance.now();

let clients: Client[] = [];
/** version → arrival time per client index (NaN until it arrives) and how many arrived. */
const arrivals = new Map<number, { times: Float64Array; arrived: number }>();
let count = 0;
let lastPatchData: string | undefined;
const waiters = new Set<() => void>();

function send(reply: ClientReply): void {
  process.send!(reply);
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

function open(host: string, port: number, request: string, index: number): Promise<Client | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, noDelay: true });
    const client: Client = { socket, index, ready: false, carry: '' };
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

async function connectAll(url: string, path: string, sdkKey: string, total: number): Promise<ClientReply> {
  const { hostname, port } = new URL(url);
  const request = `GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${sdkKey}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n`;
  count = total;
  arrivals.clear();
  clients = [];
  let failed = 0;
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const index = next++;
      const client = await open(hostname, Number(port), request, index);
      if (client) clients[index] = client;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, total) }, worker));
  return { type: 'connected', count: clients.filter(Boolean).length, failed };
}

async function collect(version: number, since: number, timeoutMs: number): Promise<ClientReply> {
  const open = clients.filter((c) => c !== undefined && !c.socket.destroyed).length;
  await waitFor(() => (arrivals.get(version)?.arrived ?? 0) >= open, timeoutMs);
  const times = arrivals.get(version)?.times ?? new Float64Array(count).fill(Number.NaN);
  const latencies: number[] = [];
  let missing = 0;
  for (const client of clients) {
    if (!client) continue;
    const t = times[client.index]!;
    if (Number.isNaN(t)) missing++;
    else latencies.push(t - since);
  }
  arrivals.delete(version);
  return { type: 'collected', version, latencies, missing, patchData: lastPatchData };
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
  return { type: 'closed' };
}

process.on('message', (message: ClientCommand) => {
  const run = async (): Promise<ClientReply> => {
    switch (message.type) {
      case 'connect':
        return connectAll(message.url, message.path, message.sdkKey, message.count);
      case 'collect':
        return collect(message.version, message.since, message.timeoutMs);
      case 'close':
        return closeAll();
    }
  };
  run().then(send, (error: unknown) => send({ type: 'error', message: String(error) }));
});
process.on('disconnect', () => process.exit(0));
