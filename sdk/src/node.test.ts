import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { createClient, createNodeClient, fileCache } from './node.js';
import { silentLogger } from './options.js';
import { booleanFlag, FakeClock, FakeServer, ruleSet } from './testing/fakes.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-sdk-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('fileCache', () => {
  it('round-trips a rule set and leaves no temporary files', async () => {
    const path = join(dir, 'nested', 'rules.json');
    const cache = fileCache(path);
    expect(cache.load()).toBeUndefined();
    await cache.save(ruleSet(3, [booleanFlag('a', true)]));
    await cache.save(ruleSet(4, [booleanFlag('a', false)]));
    expect(cache.load()?.version).toBe(4);
    expect(await readdir(join(dir, 'nested'))).toEqual(['rules.json']);
  });

  it('never exposes a partial file to concurrent readers', async () => {
    const path = join(dir, 'rules.json');
    const cache = fileCache(path);
    const big = ruleSet(1, Array.from({ length: 2_000 }, (_, i) => booleanFlag(`flag_${i}`, i % 2 === 0)));
    await cache.save(big);
    const writes = Array.from({ length: 10 }, (_, i) => cache.save({ ...big, version: i + 2 }));
    const reads = Array.from({ length: 50 }, () => readFile(path, 'utf8').then((t) => JSON.parse(t) as { version: number }));
    const results = await Promise.all(reads);
    await Promise.all(writes);
    for (const r of results) expect(r.version).toBeGreaterThanOrEqual(1);
    expect(await readdir(dir)).toEqual(['rules.json']);
  });

  it('loads a corrupt or foreign file as no cache', async () => {
    const path = join(dir, 'rules.json');
    await writeFile(path, '{"version": 3, "fla');
    expect(fileCache(path).load()).toBeUndefined();
    await writeFile(path, '{"hello": "world"}');
    expect(fileCache(path).load()).toBeUndefined();
  });
});

describe('createNodeClient', () => {
  it('saves every rule set the server sends, never overlapping writes, newest last', async () => {
    const path = join(dir, 'rules.json');
    const server = new FakeServer(ruleSet(5, [booleanFlag('a', true)]));
    const clock = new FakeClock();
    const client = createNodeClient({ url: 'http://sy.test', sdkKey: 'k', fetch: server.fetch, clock, random: () => 0, logger: silentLogger, cacheFile: path });
    try {
      await client.ready();
      for (let v = 6; v <= 9; v++) server.lastStream!.event('patch', { version: v, flags: { a: booleanFlag('a', v % 2 === 0, v) } }, v);
      await clock.advance(0);
      await client.close();
      expect(fileCache(path).load()?.version).toBe(9);
      expect(await readdir(dir)).toEqual(['rules.json']);
    } finally {
      await client.close();
    }
  });

  it('logs a failed save and keeps serving', async () => {
    const path = join(dir, 'not-a-dir');
    await writeFile(path, 'a file where a directory should be');
    const warnings: unknown[] = [];
    const server = new FakeServer(ruleSet(5, [booleanFlag('a', true)]));
    const clock = new FakeClock();
    const client = createNodeClient({ url: 'http://sy.test', sdkKey: 'k', fetch: server.fetch, clock, logger: { warn: (...a: unknown[]) => void warnings.push(a), error: () => {} }, cacheFile: join(path, 'rules.json') });
    await client.ready();
    await clock.advance(0);
    await client.close();
    expect(String((warnings[0] as unknown[])[0])).toMatch(/could not save the rules/);
    expect(client.isEnabled('a', 'u')).toBe(true);
  });

  it('starts from the cache file when the server is down, then persists fresh rules', async () => {
    const path = join(dir, 'rules.json');
    await fileCache(path).save(ruleSet(2, [booleanFlag('a', false)]));
    const server = new FakeServer(ruleSet(5, [booleanFlag('a', true)]));
    const serve = server.stream;
    server.stream = () => new Response(null, { status: 502 });
    const clock = new FakeClock();
    const client = createNodeClient({ url: 'http://sy.test', sdkKey: 'k', fetch: server.fetch, clock, random: () => 0, logger: silentLogger, cacheFile: path });
    try {
      await expect(client.ready({ timeoutMs: 5_000 })).resolves.toBe(true);
      expect(client.isEnabled('a', 'u', true)).toBe(false);
      server.stream = serve;
      await clock.advance(1);
      expect(client.isEnabled('a', 'u')).toBe(true);
      await client.close(); // waits for the pending save
      expect(fileCache(path).load()?.version).toBe(5);
    } finally {
      await client.close();
    }
  });
});

describe('typed keys on the Node entry', () => {
  interface Flags {
    'new-checkout': boolean;
    theme: 'light' | 'dark';
  }

  it('createClient<Flags> and createNodeClient<Flags> check keys and defaults at compile time (tsc in `pnpm typecheck`)', async () => {
    const client = createClient<Flags>({ url: 'http://127.0.0.1:1', sdkKey: 'k', offline: true, logger: silentLogger });
    const node = createNodeClient<Flags>({ url: 'http://127.0.0.1:1', sdkKey: 'k', offline: true, logger: silentLogger, cacheFile: join(dir, 'rules.json') });
    try {
      expectTypeOf(client.variation('theme', 'u1', 'light')).toEqualTypeOf<'light' | 'dark'>();
      expectTypeOf(node.isEnabled('new-checkout', 'u1')).toEqualTypeOf<boolean>();
      expect(node.variation('theme', 'u1', 'dark')).toBe('dark');
      // @ts-expect-error: no such flag
      client.isEnabled('new-chekout', 'u1');
      // @ts-expect-error: a default the flag cannot serve
      node.variation('theme', 'u1', 'blue');
    } finally {
      client.close();
      await node.close();
    }
  });
});
