import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFlag, createTestApp, type TestContext } from '../testing/test-app.js';

/**
 * SDK keys are public, so remote evaluation bounds what one request can make the evaluator do:
 * every string of a context meets every `matches` and list clause of every flag in a bulk request.
 * Before these bounds, a context of 1,000 strings × 1,000 characters kept the server busy for about
 * 100 ms per bulk request at 40 flags.
 */
let t: TestContext;
let sdk: string;
beforeEach(async () => {
  t = await createTestApp();
  sdk = await t.sdkKey('production');
  await createFlag(t, 'checkout');
});
afterEach(async () => {
  await t.close();
});

const paths = [
  { name: 'single', url: '/ofrep/v1/evaluate/flags/checkout' },
  { name: 'bulk', url: '/ofrep/v1/evaluate/flags' },
];

describe.each(paths)('OFREP $name evaluation bounds its input', ({ url }) => {
  const post = (payload: string) => t.request(sdk, { method: 'POST', url, payload, headers: { 'content-type': 'application/json' } });

  it('takes a context at the limits', async () => {
    const context = { targetingKey: 'u', email: 'a'.repeat(1024), plans: Array.from({ length: 100 }, (_, i) => `p${i}`) };
    expect((await post(JSON.stringify({ context }))).statusCode).toBe(200);
  });

  const refused = [
    { name: 'a string over 1,024 characters', context: { targetingKey: 'u', email: 'a'.repeat(1025) }, field: 'body.context.email' },
    { name: 'an array of over 100 items', context: { targetingKey: 'u', plans: Array.from({ length: 101 }, (_, i) => `p${i}`) }, field: 'body.context.plans' },
    { name: 'over 200 attributes', context: Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`a${i}`, i])), field: 'body.context' },
  ];
  it.each(refused)('refuses $name, naming it', async ({ context, field }) => {
    const response = await post(JSON.stringify({ context }));
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ errorCode: 'INVALID_CONTEXT' });
    expect(response.body).toContain(field);
  });

  it('refuses a body over 64 KB with 413 before parsing it', async () => {
    const context = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`a${i}`, 'x'.repeat(1000)]));
    const response = await post(JSON.stringify({ context }));
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ errorCode: 'INVALID_CONTEXT' });
  });

  const nest = (depth: number): Record<string, unknown> => (depth === 1 ? { leaf: 'x' } : { [`l${depth}`]: nest(depth - 1) });
  it('takes nested objects up to 8 names deep and 200 attributes in all', async () => {
    expect((await post(JSON.stringify({ context: { targetingKey: 'u', ...nest(8) } }))).statusCode).toBe(200);
    const wide = { targetingKey: 'u', org: Object.fromEntries(Array.from({ length: 198 }, (_, i) => [`a${i}`, i])) };
    expect((await post(JSON.stringify({ context: wide }))).statusCode).toBe(200);
  });

  const refusedNested = [
    { name: 'objects nested over 8 names deep', context: { targetingKey: 'u', ...nest(9) }, field: 'body.context.l9.l8.l7.l6.l5.l4.l3.l2' },
    { name: 'over 200 attributes counted through nested objects', context: { org: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`a${i}`, i])) }, field: 'at most 200 attributes' },
    { name: 'a nested string over 1,024 characters', context: { org: { name: 'a'.repeat(1025) } }, field: 'body.context.org.name' },
    { name: 'a nested array of over 100 items', context: { org: { plans: Array.from({ length: 101 }, (_, i) => i) } }, field: 'body.context.org.plans' },
    { name: 'an array of objects', context: { orgs: [{ id: 1 }] }, field: 'body.context.orgs' },
  ];
  it.each(refusedNested)('refuses $name, naming it', async ({ context, field }) => {
    const response = await post(JSON.stringify({ context }));
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ errorCode: 'INVALID_CONTEXT', errorDetails: expect.stringContaining(field) });
  });
});
