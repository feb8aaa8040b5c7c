import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, removeDataDir, runCli, startServerProcess, type ServerProcess } from '../support/server-process.js';

describe('server process', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess();
  });
  afterAll(async () => {
    await server.stop();
    removeDataDir(server.dataDir);
  });

  it('serves health and the API with the bootstrap admin token', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const call = api(server.url, server.adminToken);
    const envs = await call<{ items: { key: string }[] }>('GET', '/api/environments');
    expect(envs.body.items.map((e) => e.key)).toEqual(['development', 'staging', 'production']);
  });

  it('never prints the admin token', () => {
    expect(server.output()).not.toContain(server.adminToken);
  });
});

describe('serve with a database it cannot use', () => {
  it('an unreachable PostgreSQL: one line naming the reason, exit 1', async () => {
    const result = await runCli(['serve', '--port', '0', '--database-url', 'postgres://switchyard:secret@127.0.0.1:1/flags']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^switchyard: cannot start: .*ECONNREFUSED/);
    expect(result.stderr).not.toContain('secret');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('a URL that is not PostgreSQL: a configuration error naming the flag, exit 2', async () => {
    const result = await runCli(['serve', '--database-url', 'mysql://x@y/z']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--database-url: must be a PostgreSQL URL');
  });
});
