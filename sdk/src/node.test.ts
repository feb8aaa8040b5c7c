import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createNodeClient, fileCache } from './node.js';
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
    await expect(cache.load()).resolves.toBeUndefined();
    await cache.save(ruleSet(3, [booleanFlag('a', true)]));
    await cache.save(ruleSet(4, [booleanFlag('a', false)]));
    expect((await cache.load())?.version).toBe(4);
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
    await expect(fileCache(path).load()).resolves.toBeUndefined();
    await writeFile(path, '{"hello": "world"}');
    await expect(fileCache(path).load()).resolves.toBeUndefined();
  });
});

describe('createNodeClient', () => {
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
      expect((await fileCache(path).load())?.version).toBe(5);
    } finally {
      await client.close();
    }
  });
});
