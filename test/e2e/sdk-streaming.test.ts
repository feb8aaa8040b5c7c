import { createClient, type SwitchyardClient } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlag, nextChange, readStream, ruleSetVersion, sdkSetup, setDogfooders, setStage, userAt, WAIT_MS, type Api } from '../support/sdk-e2e.js';
import { removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/** The real SDK streaming from the real server: flags appear, stages move, resume sends only what was missed. */
describe('SDK streaming against the real server', () => {
  let server: ServerProcess;
  let call: Api;
  let sdkKey: string;
  const clients: SwitchyardClient[] = [];

  function client(): SwitchyardClient {
    const c = createClient({ url: server.url, sdkKey });
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    server = await startServerProcess({ args: ['--heartbeat-ms', '200'] });
    ({ call, sdkKey } = await sdkSetup(server));
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server?.stop();
    if (server) removeDataDir(server.dataDir);
  });

  it('a flag created via REST reaches a streaming client: change event, then isEnabled answers', async () => {
    const sdk = client();
    expect(await sdk.ready({ timeoutMs: WAIT_MS })).toBe(true);
    expect(sdk.evaluate('stream-new', 'u-1', false)).toMatchObject({ value: false, errorCode: 'FLAG_NOT_FOUND' });

    const created = nextChange(sdk, 'stream-new');
    await createFlag(call, 'stream-new');
    expect(await created).toContain('stream-new');
    expect(sdk.evaluate('stream-new', 'u-1', true)).toMatchObject({ value: false, variant: 'off', reason: 'DISABLED' });
    expect(sdk.isEnabled('stream-new', 'u-1', true)).toBe(false);

    const released = nextChange(sdk, 'stream-new');
    await setStage(call, 'stream-new', '100%');
    await released;
    expect(sdk.isEnabled('stream-new', 'u-1')).toBe(true);
    expect(sdk.allFlags('u-1')).toMatchObject({ 'stream-new': true });
  });

  it('moves through off → dogfood → 10% → 100% → kill → off: a change event each time and the right answers', async () => {
    const key = 'stream-stages';
    const dogfooder = 'stage-dogfooder';
    await setDogfooders(call, [dogfooder]);
    const sdk = client(); // connects after the segment change: its snapshot has the dogfood user
    expect(await sdk.ready({ timeoutMs: WAIT_MS })).toBe(true);
    expect(sdk.getRuleSet()?.segments.internal?.included).toEqual([dogfooder]);
    const created = nextChange(sdk, key);
    const flag = await createFlag(call, key);
    await created;
    const salt = flag.environments.production!.salt;
    const inside = userAt(salt, 10, true, 'stage-user');
    const outside = userAt(salt, 10, false, 'stage-user');

    const answers = () => ({ dogfood: sdk.isEnabled(key, dogfooder), inside: sdk.isEnabled(key, inside), outside: sdk.isEnabled(key, outside) });
    expect(answers()).toEqual({ dogfood: false, inside: false, outside: false });

    const expected: [string, { dogfood: boolean; inside: boolean; outside: boolean }, Record<string, string>][] = [
      ['dogfood', { dogfood: true, inside: false, outside: false }, { dogfood: 'TARGETING_MATCH', inside: 'STATIC', outside: 'STATIC' }],
      ['10%', { dogfood: true, inside: true, outside: false }, { dogfood: 'TARGETING_MATCH', inside: 'SPLIT', outside: 'SPLIT' }],
      ['100%', { dogfood: true, inside: true, outside: true }, { dogfood: 'TARGETING_MATCH', inside: 'STATIC', outside: 'STATIC' }],
      ['kill', { dogfood: false, inside: false, outside: false }, { dogfood: 'DISABLED', inside: 'DISABLED', outside: 'DISABLED' }],
      ['off', { dogfood: false, inside: false, outside: false }, { dogfood: 'DISABLED', inside: 'DISABLED', outside: 'DISABLED' }],
    ];
    for (const [stage, values, reasons] of expected) {
      const changed = nextChange(sdk, key);
      await setStage(call, key, stage);
      await changed;
      expect({ stage, ...answers() }).toEqual({ stage, ...values });
      const actualReasons = {
        dogfood: sdk.evaluate(key, dogfooder, false).reason,
        inside: sdk.evaluate(key, inside, false).reason,
        outside: sdk.evaluate(key, outside, false).reason,
      };
      expect({ stage, ...actualReasons }).toEqual({ stage, ...reasons });
    }
  });

  it('Last-Event-ID resumes with exactly the missed patches, no snapshot', async () => {
    await createFlag(call, 'stream-resume');
    const from = await ruleSetVersion(server.url, sdkKey);
    await setStage(call, 'stream-resume', 'dogfood');
    await setStage(call, 'stream-resume', '10%');
    await setStage(call, 'stream-resume', '100%');
    expect(await ruleSetVersion(server.url, sdkKey)).toBe(from + 3);

    // Everything the server sends before its first heartbeat is what it sends on connect.
    const resumed = await readStream(server.url, sdkKey, { lastEventId: from, done: (items) => items.comments.length > 0 });
    expect(resumed.status).toBe(200);
    expect(resumed.events.map((e) => [e.event, e.id])).toEqual([
      ['patch', String(from + 1)],
      ['patch', String(from + 2)],
      ['patch', String(from + 3)],
    ]);
    for (const event of resumed.events) {
      const data = JSON.parse(event.data) as { version: number; flags: Record<string, unknown> };
      expect(data.version).toBe(Number(event.id));
      expect(Object.keys(data.flags)).toEqual(['stream-resume']);
    }

    // Up to date: nothing before the heartbeat. No (or an unusable) Last-Event-ID: a snapshot.
    const current = await readStream(server.url, sdkKey, { lastEventId: from + 3, done: (items) => items.comments.length > 0 });
    expect(current.events).toEqual([]);
    const fresh = await readStream(server.url, sdkKey, { done: (items) => items.events.length > 0 });
    expect(fresh.events.map((e) => [e.event, e.id])).toEqual([['snapshot', String(from + 3)]]);
    const garbage = await readStream(server.url, sdkKey, { lastEventId: 'nonsense', done: (items) => items.events.length > 0 });
    expect(garbage.events.map((e) => e.event)).toEqual(['snapshot']);
  });
});
