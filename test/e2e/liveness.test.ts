import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * Liveness under attack: an SDK key is public (it ships in browsers and apps), so whoever holds one
 * may send anything to remote evaluation. While such traffic runs, the server must keep answering
 * everyone else: `/healthz` p99 stays under 50 ms.
 */

const FLAGS = 40;
const ATTACKERS = 12;
const PROBES = 300;
const HEALTHZ_P99_MS = 50;
/** Probes are spread over a few seconds of attack, not bunched into its first second. */
const PROBE_GAP_MS = 10;

/** What an SDK-key holder may try against OFREP: long strings against `matches`, prototype names, floods of attributes, garbage. */
function hostileBodies(): { name: string; body: string; contentType?: string }[] {
  const manyAttributes = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`a${i}`, 'x'.repeat(50)]));
  const nested: Record<string, unknown> = {};
  let cursor = nested;
  for (let i = 0; i < 2_000; i++) cursor = (cursor.n = {}) as Record<string, unknown>;
  return [
    { name: 'ReDoS bait at the longest accepted string', body: JSON.stringify({ context: { targetingKey: 'u', email: `${'a'.repeat(4_000)}!`, ua: `Mozilla/${'5.0 '.repeat(1_000)}` } }) },
    { name: 'over-long strings', body: JSON.stringify({ context: { targetingKey: 'u', email: 'a'.repeat(200_000) } }) },
    { name: 'prototype names', body: '{"context":{"targetingKey":"u","__proto__":{"plan":"pro"},"constructor":"x","toString":1,"hasOwnProperty":["a"]}}' },
    { name: '5,000 attributes', body: JSON.stringify({ context: { targetingKey: 'u', ...manyAttributes } }) },
    { name: '2,000 levels deep', body: JSON.stringify({ context: { targetingKey: 'u', deep: nested } }) },
    { name: 'a 1,000-item array per attribute', body: JSON.stringify({ context: { targetingKey: 'u', plan: Array.from({ length: 1_000 }, (_, i) => `p${i}`), email: Array.from({ length: 1_000 }, () => 'a'.repeat(1_000)) } }) },
    { name: 'broken JSON', body: '{"context":{"targetingKey":"u",' },
    { name: 'not JSON at all', body: 'a'.repeat(100_000), contentType: 'text/plain' },
    { name: 'an ordinary user', body: JSON.stringify({ context: { targetingKey: 'user-42', email: 'someone@acme.example', plan: 'pro', appVersion: '2.3.4' } }) },
  ];
}

/** Attack loop for a worker thread (plain JavaScript: workers do not go through the TypeScript loader). */
const ATTACKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { url, sdkKey, flags, attackers, bodies } = workerData;
let attacking = true;
let attacks = 0;
const statuses = {};
parentPort.on('message', () => { attacking = false; });
async function attacker(n) {
  for (let i = n; attacking; i += attackers) {
    const { name, body, contentType } = bodies[i % bodies.length];
    const path = i % 3 === 0 ? '/ofrep/v1/evaluate/flags' : '/ofrep/v1/evaluate/flags/flag-' + (i % flags);
    let status = 0;
    try {
      const response = await fetch(url + path, { method: 'POST', headers: { authorization: 'Bearer ' + sdkKey, 'content-type': contentType || 'application/json' }, body });
      await response.arrayBuffer();
      status = response.status;
    } catch {}
    (statuses[name] ||= new Set()).add(status);
    if (++attacks === attackers * 2) parentPort.postMessage({ started: true });
  }
}
Promise.all(Array.from({ length: attackers }, (_, n) => attacker(n))).then(() => {
  parentPort.postMessage({ done: true, attacks, statuses: Object.fromEntries(Object.entries(statuses).map(([k, v]) => [k, [...v]])) });
});
`;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

describe('liveness while an SDK-key holder attacks remote evaluation', () => {
  let server: ServerProcess;
  let sdkKey: string;

  beforeAll(async () => {
    server = await startServerProcess({ env: { LOG_LEVEL: 'warn' } });
    const call = api(server.url, server.adminToken);
    const key = await call<{ key: string }>('POST', '/api/sdk-keys', { name: 'public', environment: 'production' });
    expect(key.status).toBe(201);
    sdkKey = key.body.key;
    // Flags whose rules do the kinds of work attackers aim at: patterns, lists, versions, segments.
    for (let i = 0; i < FLAGS; i++) {
      const created = await call<{ version: number }>('POST', '/api/flags', { key: `flag-${i}` });
      expect(created.status).toBe(201);
      const rules = [
        { id: 'emails', clauses: [{ attribute: 'email', operator: 'matches', values: ['^[^@]+@(acme|example)\\.[a-z]{2,}$', '^user-\\d+@'] }], serve: { variation: 'on' } },
        { id: 'agents', clauses: [{ attribute: 'ua', operator: 'matches', values: ['(iPhone|iPad|Android)'] }], serve: { variation: 'on' } },
        { id: 'plans', clauses: [{ attribute: 'plan', operator: 'in', values: Array.from({ length: 100 }, (_, j) => `p${j * 7}`) }], serve: { variation: 'on' } },
        { id: 'versions', clauses: [{ attribute: 'appVersion', operator: 'semver_gt', values: ['2.0.0'] }], serve: { variation: 'on' } },
        { id: 'dogfood', clauses: [{ operator: 'in_segment', values: ['internal'] }], serve: { variation: 'on' } },
      ];
      const saved = await call('PATCH', `/api/flags/flag-${i}/environments/production`, { version: created.body.version, on: true, rules });
      expect(saved.status).toBe(200);
    }
  });

  afterAll(async () => {
    await server?.stop();
    if (server) removeDataDir(server.dataDir);
  });

  it(`/healthz p99 stays under ${HEALTHZ_P99_MS} ms`, async () => {
    // The attackers run on a thread of their own, so the probe's timings are the server's, not
    // this thread's time spent sending attack bodies.
    const attack = new Worker(ATTACKER, { eval: true, workerData: { url: server.url, sdkKey, flags: FLAGS, attackers: ATTACKERS, bodies: hostileBodies() } });
    const started = new Promise<void>((resolve, reject) => {
      attack.once('message', () => resolve());
      attack.once('error', reject);
    });
    const finished = new Promise<{ attacks: number; statuses: Record<string, number[]> }>((resolve, reject) => {
      attack.on('message', (message: { done?: boolean; attacks: number; statuses: Record<string, number[]> }) => message.done && resolve(message));
      attack.once('error', reject);
    });
    await started;

    const latencies: number[] = [];
    for (let i = 0; i < PROBES; i++) {
      const begun = performance.now();
      const response = await fetch(`${server.url}/healthz`);
      await response.arrayBuffer();
      latencies.push(performance.now() - begun);
      expect(response.status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, PROBE_GAP_MS));
    }
    attack.postMessage('stop');
    const { attacks, statuses } = await finished;
    await attack.terminate();

    latencies.sort((a, b) => a - b);
    const p99 = percentile(latencies, 99);
    const figures = `healthz p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms over ${PROBES} probes during ${attacks} hostile requests`;
    console.info(`liveness: ${figures}`);
    // The attack really ran alongside the probes, and the server answered all of it without failing
    // (0 stands for a connection the server closed on an over-long body after answering 413).
    expect(attacks).toBeGreaterThan(PROBES);
    for (const [name, seen] of Object.entries(statuses)) {
      for (const status of seen) expect(status, `${name} answered ${status}`).toBeLessThan(500);
    }
    expect(statuses['an ordinary user']).toEqual([200]);
    expect(p99, figures).toBeLessThan(HEALTHZ_P99_MS);
  });
});
