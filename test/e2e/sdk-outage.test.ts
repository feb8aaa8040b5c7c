import { bucket, createClient, percentageToBuckets, type SwitchyardClient, type SwitchyardError } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlag, nextChange, nextEvent, ruleSetVersion, sdkSetup, setDogfooders, setStage, userAt, WAIT_MS, type Api } from '../support/sdk-e2e.js';
import { api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const SERVER_ARGS = ['--heartbeat-ms', '200'];
const KEY = 'outage-flag';
const DOGFOODER = 'outage-dogfooder';

/**
 * The SDK through a server crash: it keeps answering from the last rules, and when the server comes
 * back (with a change made while it was down) it reconnects and catches up. The tests run in order
 * and share the client and the server's data directory.
 */
describe('SDK through a server outage', () => {
  let server: ServerProcess;
  const servers: ServerProcess[] = [];
  let call: Api;
  let sdkKey: string;
  let sdk: SwitchyardClient;
  let salt: string;
  const errors: SwitchyardError[] = [];

  beforeAll(async () => {
    server = await startServerProcess({ args: SERVER_ARGS });
    servers.push(server);
    ({ call, sdkKey } = await sdkSetup(server));
    await setDogfooders(call, [DOGFOODER]);
    salt = (await createFlag(call, KEY)).environments.production!.salt;
    await setStage(call, KEY, '10%');
    sdk = createClient({ url: server.url, sdkKey, logger: quiet, streamFailuresBeforePolling: 1, maxBackoffMs: 200, pollIntervalMs: 200 });
    sdk.on('error', (error) => errors.push(error));
    expect(await sdk.ready({ timeoutMs: WAIT_MS })).toBe(true);
  });

  afterAll(async () => {
    await sdk?.close();
    for (const s of servers) await s.stop();
    if (server) removeDataDir(server.dataDir);
  });

  it('after a SIGKILL of the server, 100,000 evaluations answer from the last rules with zero exceptions', async () => {
    const version = sdk.version;
    const stale = nextEvent(sdk, 'stale');
    await server.kill();
    await stale; // the stream died and a poll failed too
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.code === 'NETWORK')).toBe(true);
    expect(sdk.initialized).toBe(true);
    expect(sdk.version).toBe(version);

    const limit = percentageToBuckets(10);
    let exceptions = 0;
    let wrong = 0;
    let enabled = 0;
    for (let i = 0; i < 100_000; i++) {
      const id = i === 0 ? DOGFOODER : `outage-user-${i}`;
      const expected = id === DOGFOODER || bucket(salt, id) < limit;
      try {
        // Mostly user-ID strings, every tenth a context object.
        const value = i % 10 === 0 ? sdk.isEnabled(KEY, { userId: id, country: 'DE' }) : sdk.isEnabled(KEY, id);
        if (value !== expected) wrong++;
        if (value) enabled++;
      } catch {
        exceptions++;
      }
    }
    expect({ exceptions, wrong }).toEqual({ exceptions: 0, wrong: 0 });
    expect(enabled / 100_000).toBeGreaterThan(0.09); // the 10% rollout really is being served
    expect(enabled / 100_000).toBeLessThan(0.11);
    expect(sdk.isEnabled('no-such-flag', 'u-1', true)).toBe(true);
  });

  it('restarted on the same port with a change made while it was down, the client reconnects and catches up', async () => {
    // Another server process on the same data directory (and another port) makes the change.
    const other = await startServerProcess({ dataDir: server.dataDir, args: SERVER_ARGS });
    servers.push(other);
    const otherCall = api(other.url, other.adminToken);
    await setStage(otherCall, KEY, '100%');
    const expectedVersion = await ruleSetVersion(other.url, sdkKey);
    await other.stop();
    const outsider = userAt(salt, 10, false, 'outage-user');
    expect(sdk.isEnabled(KEY, outsider)).toBe(false); // still the rules from before the crash

    const changed = nextChange(sdk, KEY);
    const recovered = nextEvent(sdk, 'recovered');
    const restarted = await startServerProcess({ port: server.port, dataDir: server.dataDir, args: SERVER_ARGS });
    servers.push(restarted);
    await Promise.all([changed, recovered]);
    expect(sdk.version).toBe(expectedVersion);
    expect(sdk.isEnabled(KEY, outsider)).toBe(true);
    let off = 0;
    for (let i = 1; i <= 10_000; i++) if (!sdk.isEnabled(KEY, `outage-user-${i}`)) off++;
    expect(off).toBe(0);
  });
});
