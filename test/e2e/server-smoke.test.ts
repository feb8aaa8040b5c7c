import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

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
