import { createServer, type Server, type Socket } from 'node:net';
import { createClient, type SwitchyardClient, type SwitchyardError } from '@switchyard/sdk';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createFlag, nextChange, nextEvent, sdkSetup, setStage, WAIT_MS } from '../support/sdk-e2e.js';
import { removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

const quiet = { warn: () => {}, error: () => {} };

/** A TCP server on 127.0.0.1 that accepts every connection and never sends a byte: a hung server or a black-holing proxy. */
async function startStallingServer(): Promise<{ url: string; accepted: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('stalling server: no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    accepted: () => accepted,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Every SDK request has a timeout, and a stream closed by a restarting server is reopened within about a second. */
describe('the SDK never hangs', () => {
  const clients: SwitchyardClient[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('a polling client against a server that accepts and never answers reports a timeout and stale within seconds', async () => {
    const stalling = await startStallingServer();
    cleanups.push(stalling.close);
    const started = Date.now();
    const sdk = createClient({ url: stalling.url, sdkKey: 'sdk-key', streaming: false, requestTimeoutMs: 500, logger: quiet });
    clients.push(sdk);
    const error = nextEvent(sdk, 'error', () => true, 5_000);
    const stale = nextEvent(sdk, 'stale', () => true, 5_000);
    const timeout: SwitchyardError = await error;
    expect(timeout.code).toBe('TIMEOUT');
    expect(timeout.message).toMatch(/500 ms/);
    expect((await stale).reason).toMatch(/500 ms/);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(stalling.accepted()).toBeGreaterThanOrEqual(1);
    expect(await sdk.ready({ timeoutMs: 0 })).toBe(false); // no rules ever came, and nothing hangs
  });

  it('a streaming client whose connection is accepted but never answered times out and retries', async () => {
    const stalling = await startStallingServer();
    cleanups.push(stalling.close);
    const sdk = createClient({ url: stalling.url, sdkKey: 'sdk-key', requestTimeoutMs: 500, logger: quiet });
    clients.push(sdk);
    const first = await nextEvent(sdk, 'error', () => true, 5_000);
    expect(first.code).toBe('TIMEOUT');
    expect(first.message).toMatch(/^stream: /);
    await nextEvent(sdk, 'error', () => true, 5_000); // and it tried again
    expect(stalling.accepted()).toBeGreaterThanOrEqual(2);
  });

  it('after a server restart, a streaming client sees a change made right after it within about 2 s', async () => {
    const server = await startServerProcess({ args: ['--heartbeat-ms', '200'] });
    const servers: ServerProcess[] = [server];
    cleanups.push(async () => {
      for (const s of servers) await s.stop();
      removeDataDir(server.dataDir);
    });
    const { call, sdkKey } = await sdkSetup(server);
    await createFlag(call, 'restart-flag');
    const sdk = createClient({ url: server.url, sdkKey, logger: quiet });
    clients.push(sdk);
    expect(await sdk.ready({ timeoutMs: WAIT_MS })).toBe(true);
    expect(sdk.isEnabled('restart-flag', 'u-1')).toBe(false);

    const down = Date.now();
    await server.stop(); // SIGTERM: the server ends every stream cleanly, then exits
    const restarted = await startServerProcess({ port: server.port, dataDir: server.dataDir, args: ['--heartbeat-ms', '200'] });
    servers.push(restarted);
    const downMs = Date.now() - down;
    const changed = nextChange(sdk, 'restart-flag');
    const before = Date.now();
    await setStage(call, 'restart-flag', '100%');
    await changed;
    const seenAfterMs = Date.now() - before;
    console.info(`restart: the server was down for ${downMs} ms; the client saw a change made right after it ${seenAfterMs} ms later`);
    expect(seenAfterMs).toBeLessThan(2_500);
    expect(sdk.isEnabled('restart-flag', 'u-1')).toBe(true);
  });
});
