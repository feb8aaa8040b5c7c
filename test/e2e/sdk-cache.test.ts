import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNodeClient, type RuleSet, type SwitchyardClient } from '@switchyard/sdk/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlag, nextChange, nextEvent, ruleSetVersion, sdkSetup, setDogfooders, setStage, userAt, WAIT_MS, type Api } from '../support/sdk-e2e.js';
import { removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** `createNodeClient({ cacheFile })`: the last good rules survive a restart of the app while the server is down. */
describe('SDK persisted cache file', () => {
  let server: ServerProcess;
  let call: Api;
  let sdkKey: string;
  let cacheDir: string;
  const clients: SwitchyardClient[] = [];

  beforeAll(async () => {
    cacheDir = mkdtempSync(join(tmpdir(), 'switchyard-sdk-cache-'));
    server = await startServerProcess();
    ({ call, sdkKey } = await sdkSetup(server));
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server?.stop();
    if (server) removeDataDir(server.dataDir);
    if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
  });

  it('a new client starts from the cache file when the server is unreachable', async () => {
    const cacheFile = join(cacheDir, 'nested', 'rules.json');
    await setDogfooders(call, ['cache-dogfooder']);
    const salt = (await createFlag(call, 'cache-flag')).environments.production!.salt;
    await createFlag(call, 'cache-theme', { type: 'string', variations: [{ key: 'light', value: 'light' }, { key: 'dark', value: 'dark' }] });
    await setStage(call, 'cache-theme', '100%', { variation: 'dark' });
    const inside = userAt(salt, 10, true, 'cache-user');
    const outside = userAt(salt, 10, false, 'cache-user');

    // Connected once: the snapshot, then a change, both saved; close() waits for the last write.
    const first = createNodeClient({ url: server.url, sdkKey, cacheFile });
    clients.push(first);
    expect(await first.ready({ timeoutMs: WAIT_MS })).toBe(true);
    const changed = nextChange(first, 'cache-flag');
    await setStage(call, 'cache-flag', '10%');
    await changed;
    const version = first.version;
    expect(version).toBe(await ruleSetVersion(server.url, sdkKey));
    await first.close();
    const saved = JSON.parse(readFileSync(cacheFile, 'utf8')) as RuleSet;
    expect(saved.version).toBe(version);
    expect(Object.keys(saved.flags).sort()).toEqual(['cache-flag', 'cache-theme']);

    await server.stop();

    // The server is gone: the new client serves the file's rules (and keeps trying the server).
    const second = createNodeClient({ url: server.url, sdkKey, cacheFile, logger: quiet, maxBackoffMs: 200 });
    clients.push(second);
    const readyEvent = nextEvent(second, 'ready');
    const failed = nextEvent(second, 'error');
    expect(await second.ready({ timeoutMs: WAIT_MS })).toBe(true);
    await readyEvent;
    expect((await failed).code).toBe('NETWORK');
    expect(second.initialized).toBe(true);
    expect(second.version).toBe(version);
    expect({
      dogfood: second.isEnabled('cache-flag', 'cache-dogfooder'),
      inside: second.isEnabled('cache-flag', inside),
      outside: second.isEnabled('cache-flag', outside),
    }).toEqual({ dogfood: true, inside: true, outside: false });
    expect(second.evaluate('cache-flag', inside, false)).toMatchObject({ value: true, variant: 'on', reason: 'SPLIT' });
    expect(second.variation('cache-theme', 'anyone', 'light')).toBe('dark');

    // Without the cache file the same situation serves only the defaults.
    const bare = createNodeClient({ url: server.url, sdkKey, logger: quiet, maxBackoffMs: 200 });
    clients.push(bare);
    expect(await bare.ready({ timeoutMs: 300 })).toBe(false);
    expect(bare.isEnabled('cache-flag', 'cache-dogfooder')).toBe(false);
    expect(bare.variation('cache-theme', 'anyone', 'light')).toBe('light');
  });
});
