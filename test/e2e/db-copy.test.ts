import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLES } from '../../server/src/store/ports.js';
import { createTestSchema, type TestSchema } from '../../server/src/testing/postgres.js';
import { api, removeDataDir, runCli, startServerProcess, type CliResult, type ServerProcess } from '../support/server-process.js';

/**
 * The upgrade from one node to a cluster as an operator does it: stop the SQLite server, run
 * `switchyard db copy` (the real CLI, a child process), start a server on PostgreSQL.
 */

const STACK_TRACE = /\n\s+at \S/;
const TIMEOUT = 120_000;

interface Before {
  flags: unknown[];
  etag: string | null;
  rules: unknown;
  auditIds: number[];
}

function expectFailure(result: CliResult, code: 1 | 2, message: RegExp): void {
  expect(result.code, result.stderr).toBe(code);
  expect(result.stderr).toMatch(message);
  expect(result.stderr).not.toMatch(STACK_TRACE);
}

const digest = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('switchyard db copy', () => {
  let source: ServerProcess;
  let schema: TestSchema;
  let file: string;
  let sdkKey: string;
  let before: Before;

  beforeAll(async () => {
    schema = await createTestSchema('db_copy_e2e');
    source = await startServerProcess();
    file = join(source.dataDir, 'switchyard.db');
    const call = api(source.url, source.adminToken);
    for (const key of ['checkout', 'search', 'banner']) expect((await call('POST', '/api/flags', { key, tags: ['e2e'] })).status).toBe(201);
    const checkout = await call<{ version: number }>('GET', '/api/flags/checkout');
    expect((await call('POST', '/api/flags/checkout/environments/production/stage', { stage: '10%', version: checkout.body.version })).status).toBe(200);
    expect((await call('POST', '/api/segments', { key: 'beta', name: 'Beta', included: ['u1'] })).status).toBe(201);
    sdkKey = (await call<{ key: string }>('POST', '/api/sdk-keys', { name: 'web', environment: 'production' })).body.key;
    const rules = await fetch(`${source.url}/api/sdk/rules`, { headers: { authorization: `Bearer ${sdkKey}` } });
    before = {
      flags: (await call<{ items: unknown[] }>('GET', '/api/flags')).body.items,
      etag: rules.headers.get('etag'),
      rules: await rules.json(),
      auditIds: (await call<{ items: { id: number }[] }>('GET', '/api/audit?limit=200')).body.items.map((e) => e.id),
    };
    await source.stop();
  }, TIMEOUT);

  afterAll(async () => {
    await source?.stop();
    if (source) removeDataDir(source.dataDir);
    await schema?.drop();
  });

  it('copies a stopped server into PostgreSQL, and a server on the copy serves the same data', async () => {
    const unchanged = digest(file);
    const copied = await runCli(['db', 'copy', '--from', file, '--to', schema.url]);
    expect(copied.code, copied.stderr).toBe(0);
    expect(copied.stdout).toMatch(/^flags\s+3\s+[0-9a-f]{16}$/m);
    expect(copied.stdout).toMatch(/^audit_log\s+\d+\s+[0-9a-f]{16}$/m);
    expect(copied.stdout).toContain(`Verified: row count and content digest of all ${TABLES.length} tables match the source`);
    expect(digest(file)).toBe(unchanged);

    const cluster = await startServerProcess({ env: { SWITCHYARD_DATABASE_URL: schema.url } });
    try {
      const call = api(cluster.url, cluster.adminToken);
      expect((await call<{ items: unknown[] }>('GET', '/api/flags')).body.items).toEqual(before.flags);
      const rules = await fetch(`${cluster.url}/api/sdk/rules`, { headers: { authorization: `Bearer ${sdkKey}` } });
      expect(rules.headers.get('etag')).toBe(before.etag);
      expect(await rules.json()).toEqual(before.rules);

      const search = await call<{ version: number }>('GET', '/api/flags/search');
      expect((await call('POST', '/api/flags/search/environments/production/stage', { stage: 'dogfood', version: search.body.version })).status).toBe(200);
      const audit = (await call<{ items: { id: number }[] }>('GET', '/api/audit?limit=200')).body.items.map((e) => e.id);
      expect(audit.slice(1)).toEqual(before.auditIds);
      expect(audit[0]).toBe(Math.max(...before.auditIds) + 1);
    } finally {
      await cluster.stop();
      removeDataDir(cluster.dataDir);
    }
  }, TIMEOUT);

  it('refuses to copy into a schema that holds data: exit 1, no stack trace', async () => {
    expectFailure(await runCli(['db', 'copy', '--from', file, '--to', schema.url]), 1, /already holds Switchyard data .*changed nothing/);
  }, TIMEOUT);

  it('usage errors exit 2 and name the problem; --help explains the snapshot', async () => {
    const cases = [
      { args: ['db'], message: /missing command after "db"/ },
      { args: ['db', 'copy', '--from', file], message: /missing --to URL/ },
      { args: ['db', 'copy', '--from', file, '--to', 'mysql://root@localhost/db'], message: /must be a PostgreSQL URL/ },
      { args: ['db', 'copy', '--from', join(source.dataDir, 'nope.db'), '--to', schema.url], message: /no database file at/ },
      { args: ['db', 'copy', '--form', file], message: /Unknown option '--form'/ },
    ];
    // Each is a process of its own: run them side by side.
    const results = await Promise.all(cases.map((c) => runCli(c.args)));
    cases.forEach((c, i) => expectFailure(results[i]!, 2, c.message));
    const help = await runCli(['db', 'copy', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/changes made after the snapshot are not copied/);
  }, TIMEOUT);
});
