import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatPlan } from '../cli/gitops.js';
import { createTestApp, readFlag, snapshotDatabase, type ErrorBody, type TestContext } from '../testing/test-app.js';

/**
 * `clientVisible` in flag files: it decides which flags client keys (browsers, mobile apps) get, so
 * a file must be able to set it, a review must see it change, export must keep it, and a value that
 * is not a boolean must never be read as one.
 */

let t: TestContext;
let clientKey: string;

beforeEach(async () => {
  t = await createTestApp();
  const res = await t.request(t.adminToken, { method: 'POST', url: '/api/sdk-keys', payload: { name: 'web', environment: 'production', kind: 'client' } });
  expect(res.statusCode, res.body).toBe(201);
  clientKey = res.json<{ key: string }>().key;
});
afterEach(async () => {
  await t.close();
});

const apply = (document: string, extra: Record<string, unknown> = {}) =>
  t.request(t.adminToken, { method: 'POST', url: '/api/gitops/apply', payload: { document, filename: 'flags.yaml', ...extra } });
const plan = (document: string, extra: Record<string, unknown> = {}) =>
  t.request(t.adminToken, { method: 'POST', url: '/api/gitops/plan', payload: { document, filename: 'flags.yaml', ...extra } });

async function exportText(format: 'yaml' | 'json' = 'yaml'): Promise<string> {
  const res = await t.request(t.adminToken, { method: 'GET', url: `/api/gitops/export?format=${format}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.body;
}

/** The keys a client key's bulk evaluation returns in production. */
async function clientFlags(): Promise<string[]> {
  const res = await t.request(clientKey, { method: 'POST', url: '/ofrep/v1/evaluate/flags', payload: { context: { targetingKey: 'visitor-1' } } });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ flags: { key: string }[] }>().flags.map((f) => f.key).sort();
}

const file = ({ banner = '', checkout = '' } = {}) => `environments:
  development: { name: Development }
  production: { name: Production, critical: true }
  staging: { name: Staging }
flags:
  web-banner:
    tags: [web]${banner}
    environments:
      production: { stage: 100% }
  new-checkout:${checkout}
    environments:
      production: { stage: 100% }
`;
const VISIBLE = '\n    clientVisible: true';

describe('clientVisible in flag files', () => {
  it('a file with clientVisible: true creates a flag client keys receive; the plan shows it', async () => {
    const planned = await plan(file({ banner: VISIBLE }));
    expect(planned.statusCode, planned.body).toBe(200);
    const changes = planned.json<{ changes: { key: string; action: string; fields: { path: string; after: unknown }[] }[] }>().changes;
    // A new flag exposed to browsers is worth a line in the review; a hidden one (the default) is not.
    expect(changes.find((c) => c.key === 'web-banner')!.fields).toContainEqual({ path: 'clientVisible', after: true });
    expect(changes.find((c) => c.key === 'new-checkout')!.fields.map((f) => f.path)).not.toContain('clientVisible');

    const res = await apply(file({ banner: VISIBLE }));
    expect(res.statusCode, res.body).toBe(200);
    expect((await readFlag(t, 'web-banner')).clientVisible).toBe(true);
    expect((await readFlag(t, 'new-checkout')).clientVisible).toBe(false);
    expect(await clientFlags()).toEqual(['web-banner']);
  });

  it('false → true is one readable plan line, applies, and the client key then gets the flag', async () => {
    expect((await apply(file())).statusCode).toBe(200);
    expect(await clientFlags()).toEqual([]);

    const planned = await plan(file({ checkout: VISIBLE }));
    const body = planned.json<Parameters<typeof formatPlan>[0]>();
    expect(body.changes).toEqual([{ action: 'update', resource: 'flag', key: 'new-checkout', fields: [{ path: 'clientVisible', before: false, after: true }] }]);
    expect(formatPlan(body)).toBe('~ flag new-checkout\n    clientVisible: false → true\n\nPlan: 0 to create, 1 to change, 0 to delete.\n');

    const applied = await apply(file({ checkout: VISIBLE }), { expectedVersions: body.versions });
    expect(applied.statusCode, applied.body).toBe(200);
    expect(applied.json()).toMatchObject({ applied: true, summary: { update: 1 } });
    expect(await clientFlags()).toEqual(['new-checkout']);
    const audit = (await t.request(t.adminToken, { method: 'GET', url: '/api/audit?limit=1' })).json<{ items: { action: string; source: string; before: { clientVisible: boolean }; after: { clientVisible: boolean } }[] }>().items[0]!;
    expect(audit).toMatchObject({ action: 'flag.updated', source: 'gitops', before: { clientVisible: false }, after: { clientVisible: true } });

    // And back: leaving the field out of the file means hidden again.
    const hidden = await plan(file());
    expect(hidden.json<{ changes: unknown[] }>().changes).toEqual([{ action: 'update', resource: 'flag', key: 'new-checkout', fields: [{ path: 'clientVisible', before: true, after: false }] }]);
    expect((await apply(file())).statusCode).toBe(200);
    expect(await clientFlags()).toEqual([]);
  });

  it('export writes clientVisible: true only for visible flags, and export → apply → export round-trips', async () => {
    expect((await apply(file())).statusCode).toBe(200);
    expect(await exportText()).not.toContain('clientVisible');

    const flag = await readFlag(t, 'web-banner');
    const patched = await t.request(t.adminToken, { method: 'PATCH', url: '/api/flags/web-banner', payload: { version: flag.version, clientVisible: true } });
    expect(patched.statusCode, patched.body).toBe(200);
    const yaml = await exportText();
    expect(yaml.match(/clientVisible/g)).toHaveLength(1);
    expect(yaml).toMatch(/^ {2}web-banner:\n {4}clientVisible: true\n/m);
    const json = JSON.parse(await exportText('json')) as { flags: Record<string, Record<string, unknown>> };
    expect(json.flags['web-banner']!.clientVisible).toBe(true);
    expect(json.flags['new-checkout']).not.toHaveProperty('clientVisible');

    const before = await snapshotDatabase(t.db);
    const again = await apply(yaml);
    expect(again.json()).toMatchObject({ applied: false, changes: [] });
    expect(await snapshotDatabase(t.db)).toEqual(before);
    expect(await exportText()).toBe(yaml);

    // Into an empty server: the exported file alone recreates the visibility.
    await t.close();
    t = await createTestApp();
    const key = await t.request(t.adminToken, { method: 'POST', url: '/api/sdk-keys', payload: { name: 'web', environment: 'production', kind: 'client' } });
    clientKey = key.json<{ key: string }>().key;
    expect((await apply(yaml)).statusCode).toBe(200);
    expect(await exportText()).toBe(yaml);
    expect(await clientFlags()).toEqual(['web-banner']);
  });

  const NOT_BOOLEANS = [
    { name: 'a quoted string', value: '"true"' },
    { name: 'yes (a string in YAML 1.2)', value: 'yes' },
    { name: 'a number', value: '1' },
    { name: 'null', value: 'null' },
    { name: 'a list', value: '[true]' },
  ];
  for (const { name, value } of NOT_BOOLEANS) {
    it(`refuses ${name} with a 400 naming the file and flags.<key>.clientVisible; nothing is written`, async () => {
      expect((await apply(file())).statusCode).toBe(200);
      const before = await snapshotDatabase(t.db);
      const bad = file({ checkout: `\n    clientVisible: ${value}` });
      for (const res of [await plan(bad, { filename: 'team/web.yaml' }), await apply(bad, { filename: 'team/web.yaml' })]) {
        expect(res.statusCode, res.body).toBe(400);
        const { error } = res.json<ErrorBody>();
        expect(error.code).toBe('validation_failed');
        expect(error.message).toMatch(/^team\/web\.yaml:11:20: flags\.new-checkout\.clientVisible: .*expected boolean/i);
      }
      expect(await snapshotDatabase(t.db)).toEqual(before);
      expect(await clientFlags()).toEqual([]);
    });
  }

  it('names the right file among several', async () => {
    const documents = [
      { name: 'envs.yaml', content: 'environments:\n  production: {}\n' },
      { name: 'flags/web.json', content: JSON.stringify({ flags: { 'web-banner': { clientVisible: 'on' } } }, null, 2) },
    ];
    const res = await t.request(t.adminToken, { method: 'POST', url: '/api/gitops/plan', payload: { documents } });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().error.message).toMatch(/^flags\/web\.json:4:24: flags\.web-banner\.clientVisible: .*expected boolean/i);
  });
});
