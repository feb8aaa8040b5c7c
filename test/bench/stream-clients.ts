/**
 * SDK streams held for a benchmark by child processes (propagation-clients.ts): the open-files
 * limit is per process (20,000 here), so no child holds more than MAX_PER_CHILD sockets.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { NODE_SOURCE_ARGS } from '../support/server-process.js';
import { option } from './measure.js';
import type { ClientCommand, ClientReply } from './propagation-clients.js';

const MAX_PER_CHILD = 9000;
const STREAM_PATH = '/api/sdk/stream';
/**
 * Environment for the servers these streams go to: every stream uses one SDK key (as a fleet of
 * app instances shares its environment's key), beyond the default 1,000 streams per key and replica.
 */
export const STREAM_SERVER_ENV = { SWITCHYARD_MAX_STREAMS_PER_KEY: '1000000' };
/**
 * `--clients-nice N` (1–19) runs the client processes at a lower CPU priority. In production the
 * SDKs are on other machines; here they share the server's two cores, and reading 10,000 sockets
 * competes with the server being measured. Off (0) by default: the headline figures keep them equal.
 */
export const CLIENTS_NICE = Number(option('clients-nice', '0'));
if (!(Number.isInteger(CLIENTS_NICE) && CLIENTS_NICE >= 0 && CLIENTS_NICE <= 19)) throw new Error(`--clients-nice: expected an integer 0–19, got ${option('clients-nice', '0')}`);

type Reply<T extends ClientReply['type']> = Extract<ClientReply, { type: T }>;

/** One child process, driven by one request at a time. */
class ClientProcess {
  private readonly child: ChildProcess;
  private pending: ((reply: ClientReply) => void) | undefined;

  constructor() {
    this.child = fork(fileURLToPath(new URL('./propagation-clients.ts', import.meta.url)), [], { execArgv: NODE_SOURCE_ARGS });
    if (CLIENTS_NICE > 0 && this.child.pid !== undefined) setPriority(this.child.pid, CLIENTS_NICE);
    this.child.on('message', (reply: ClientReply) => this.pending?.(reply));
  }

  run<T extends ClientReply['type']>(command: ClientCommand): Promise<Reply<T>> {
    return new Promise((resolve, reject) => {
      this.pending = (reply) => {
        this.pending = undefined;
        if (reply.type === 'error') reject(new Error(reply.message));
        else resolve(reply as Reply<T>);
      };
      this.child.send(command);
    });
  }

  stop(): void {
    if (this.child.connected) this.child.disconnect();
  }
}

export interface Collected {
  /** The patch's id (feed position). */
  version: number;
  /** Per stream that got it: arrival minus `since`. */
  latencies: number[];
  /** Streams that did not get it in time. */
  missing: number;
  /** The data line of that patch, as a stream received it. */
  patchData: string | undefined;
}

/** A set of streams, across as many child processes as their number needs. */
export class StreamClients {
  private children: ClientProcess[] = [];
  private active: ClientProcess[] = [];

  /** Open `count` streams, spread evenly over `urls` (round-robin), each ready (its snapshot arrived). */
  async connect(urls: string[], sdkKey: string, count: number): Promise<void> {
    const needed = Math.ceil(count / MAX_PER_CHILD);
    while (this.children.length < needed) this.children.push(new ClientProcess());
    this.active = this.children.slice(0, needed);
    let offset = 0;
    const replies = await Promise.all(
      this.active.map((child, i) => {
        const share = Math.floor(count / needed) + (i < count % needed ? 1 : 0);
        const command: ClientCommand = { type: 'connect', urls, offset, path: STREAM_PATH, sdkKey, count: share };
        offset += share;
        return child.run<'connected'>(command);
      }),
    );
    const opened = replies.reduce((sum, reply) => sum + reply.count, 0);
    const failed = replies.reduce((sum, reply) => sum + reply.failed, 0);
    if (opened !== count) throw new Error(`only ${opened} of ${count} streams opened (${failed} failed)`);
  }

  /**
   * The first patch after position `after`, once every stream has it (or `timeoutMs` passed).
   * Every child must have seen the same patch first: one change at a time is in flight.
   */
  async collect(after: number, since: number, timeoutMs: number): Promise<Collected> {
    const replies = await Promise.all(this.active.map((child) => child.run<'collected'>({ type: 'collect', after, since, timeoutMs })));
    const versions = new Set(replies.map((reply) => reply.version));
    const version = replies[0]?.version;
    if (versions.size !== 1 || version === undefined) throw new Error(`no single patch after position ${after}: children saw ${[...versions].join(', ')}`);
    return {
      version,
      latencies: replies.flatMap((reply) => reply.latencies),
      missing: replies.reduce((sum, reply) => sum + reply.missing, 0),
      patchData: replies[0]?.patchData,
    };
  }

  /** Patches per stream since connecting: the fewest and most any stream got, and the newest id. */
  async tally(): Promise<{ fewest: number; most: number; newest: number }> {
    const replies = await Promise.all(this.active.map((child) => child.run<'tallied'>({ type: 'tally' })));
    return {
      fewest: Math.min(...replies.map((reply) => reply.fewest)),
      most: Math.max(...replies.map((reply) => reply.most)),
      newest: Math.max(...replies.map((reply) => reply.newest)),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.active.map((child) => child.run({ type: 'close' })));
    this.active = [];
  }

  /** End the child processes (their sockets close with them). */
  stop(): void {
    for (const child of this.children) child.stop();
    this.children = [];
    this.active = [];
  }
}
