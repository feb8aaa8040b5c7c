import { createClient, type ClientOptions, type SwitchyardClient } from '@switchyard/sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createFlag,
  nextChange,
  nextEvent,
  parseSse,
  ruleSetVersion,
  sdkSetup,
  setStage,
  startProxy,
  WAIT_MS,
  type Api,
  type SseItems,
  type TestProxy,
} from '../support/sdk-e2e.js';
import { removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** The SDK behind an HTTP proxy: a proxy that swallows the stream forces polling; one that cuts and restores shows resume. */
describe('SDK through a proxy', () => {
  let server: ServerProcess;
  let call: Api;
  let sdkKey: string;
  let clients: SwitchyardClient[] = [];
  let proxies: TestProxy[] = [];

  function client(options: Partial<ClientOptions> & { url: string }): SwitchyardClient {
    const c = createClient({ sdkKey, logger: quiet, ...options });
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    server = await startServerProcess({ args: ['--heartbeat-ms', '200'] });
    ({ call, sdkKey } = await sdkSetup(server));
  });

  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(proxies.map((p) => p.close()));
    clients = [];
    proxies = [];
  });

  afterAll(async () => {
    await server?.stop();
    if (server) removeDataDir(server.dataDir);
  });

  it('a proxy that swallows the stream forces polling with ETag; a stage change still arrives', async () => {
    const proxy = await startProxy(server.url, { swallowStream: true });
    proxies.push(proxy);
    await createFlag(call, 'proxy-poll');
    const sdk = client({ url: proxy.url, heartbeatTimeoutMs: 300, streamFailuresBeforePolling: 2, pollIntervalMs: 100, maxBackoffMs: 100 });

    // The stream never answers: after 2 silent attempts the client polls, and the poll brings the rules.
    expect(await sdk.ready({ timeoutMs: WAIT_MS })).toBe(true);
    expect(proxy.requestsTo('/api/sdk/stream').length).toBeGreaterThanOrEqual(2);
    expect(proxy.requestsTo('/api/sdk/stream').every((r) => r.swallowed && r.status === undefined)).toBe(true);
    expect(sdk.isEnabled('proxy-poll', 'u-1', true)).toBe(false);

    const polls = () => proxy.requestsTo('/api/sdk/rules');
    const notModified = () => polls().filter((r) => r.status === 304);
    await proxy.until(() => notModified().length >= 2, 'two 304 answers to polls');

    const changed = nextChange(sdk, 'proxy-poll');
    await setStage(call, 'proxy-poll', '100%');
    await changed;
    expect(sdk.isEnabled('proxy-poll', 'u-1')).toBe(true);
    expect(sdk.version).toBe(await ruleSetVersion(server.url, sdkKey));

    // The poll that saw the change sent the old ETag and got a 200; the ones around it got 304s.
    const answered = polls().filter((r) => r.status !== undefined);
    expect(answered[0]).toMatchObject({ status: 200 });
    expect(answered[0]!.headers['if-none-match']).toBeUndefined();
    const later = answered.slice(1);
    expect(later.length).toBeGreaterThanOrEqual(3);
    expect(later.every((r) => typeof r.headers['if-none-match'] === 'string')).toBe(true);
    expect(later.filter((r) => r.status === 200)).toHaveLength(1);
    expect(notModified().length).toBeGreaterThanOrEqual(2);
  });

  it('after the connection is cut and restored, the stream resumes with Last-Event-ID and gets only patches', async () => {
    const proxy = await startProxy(server.url);
    proxies.push(proxy);
    await createFlag(call, 'proxy-resume');
    // Never polls (the poll would fetch the changes before the stream could resume).
    const sdk = client({ url: proxy.url, streamFailuresBeforePolling: 1_000, maxBackoffMs: 100 });
    expect(await sdk.ready({ timeoutMs: WAIT_MS })).toBe(true);
    const before = sdk.version!;
    expect(before).toBe(await ruleSetVersion(server.url, sdkKey));

    const streams = () => proxy.requestsTo('/api/sdk/stream');
    expect(streams()).toHaveLength(1);
    expect(streams()[0]!.headers['last-event-id']).toBeUndefined();
    expect(events(streams()[0]!.body).events.map((e) => e.event)).toEqual(['snapshot']);

    const lost = nextEvent(sdk, 'error');
    proxy.cut();
    expect((await lost).code).toBe('NETWORK');
    await setStage(call, 'proxy-resume', 'dogfood');
    await setStage(call, 'proxy-resume', '10%');
    await setStage(call, 'proxy-resume', '100%');
    const after = await ruleSetVersion(server.url, sdkKey);
    expect(after).toBe(before + 3);
    expect(sdk.isEnabled('proxy-resume', 'u-1')).toBe(false); // still the last rules it had

    const attemptsBefore = streams().length;
    const caughtUp = nextEvent(sdk, 'change', () => sdk.version === after);
    proxy.restore();
    await caughtUp;
    expect(sdk.isEnabled('proxy-resume', 'u-1')).toBe(true);

    const resumed = streams().slice(attemptsBefore).filter((r) => r.status === 200);
    expect(resumed).toHaveLength(1);
    expect(resumed[0]!.headers['last-event-id']).toBe(String(before));
    const received = events(resumed[0]!.body);
    expect(received.events.map((e) => [e.event, e.id])).toEqual([
      ['patch', String(before + 1)],
      ['patch', String(before + 2)],
      ['patch', String(before + 3)],
    ]);
  });
});

function events(body: string): SseItems {
  const items: SseItems = { events: [], comments: [] };
  parseSse(body, items);
  return items;
}
