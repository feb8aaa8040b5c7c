import { describe, expect, expectTypeOf, it } from 'vitest';
import type { SwitchyardClient } from './client-api.js';
import { SwitchyardError } from './errors.js';
import { createTestClient } from './testing.js';

/** `@switchyard/sdk/testing`: the test double applications use instead of a server. */

/** Application code under test: it takes any client with the real client's API. */
function checkoutPage(client: SwitchyardClient, userId: string): string {
  const theme = client.variation('checkout-theme', userId, 'light');
  return `${client.isEnabled('new-checkout', userId) ? 'new' : 'old'} checkout (${theme})`;
}

describe('createTestClient', () => {
  it('serves the given values, per-user values first, through the real client API', () => {
    const client = createTestClient({ flags: { 'new-checkout': true, 'checkout-theme': 'dark', limits: { items: 5 } }, users: { u1: { 'new-checkout': false } } });
    expect(checkoutPage(client, 'u2')).toBe('new checkout (dark)');
    expect(checkoutPage(client, 'u1')).toBe('old checkout (dark)');
    expect(client.isEnabled('new-checkout', { userId: 'u1', plan: 'pro' })).toBe(false);
    expect(client.variation('limits', 'u1', { items: 1 })).toEqual({ items: 5 });
    expect(client.evaluate('new-checkout', 'u1', true)).toEqual({ value: false, reason: 'TARGETING_MATCH' });
    expect(client.evaluate('new-checkout', 'u2', false)).toEqual({ value: true, reason: 'STATIC' });
    expect(client.allFlags('u1')).toEqual({ 'new-checkout': false, 'checkout-theme': 'dark', limits: { items: 5 } });
    expect(client.initialized).toBe(true);
  });

  it('applies the real client type rules: unknown flags and values of another type get the default', () => {
    const client = createTestClient({ flags: { theme: 'dark' } });
    expect(client.isEnabled('missing', 'u1')).toBe(false);
    expect(client.isEnabled('missing', 'u1', true)).toBe(true);
    expect(client.isEnabled('theme', 'u1', true)).toBe(true); // a string flag is no boolean
    expect(client.evaluate('missing', 'u1', 'x')).toMatchObject({ value: 'x', reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });
    expect(client.evaluate('theme', 'u1', 0)).toMatchObject({ value: 0, errorCode: 'TYPE_MISMATCH', errorMessage: 'flag theme serves a string, the default is a number' });
  });

  it('set: for everyone or one user, emitting change like the real client; undefined removes', () => {
    const client = createTestClient({ flags: { 'new-checkout': false } });
    const changes: (readonly string[])[] = [];
    client.on('change', (keys) => changes.push(keys));
    client.set('new-checkout', true);
    expect(client.isEnabled('new-checkout', 'u1')).toBe(true);
    client.set('new-checkout', false, 'u1');
    expect(client.isEnabled('new-checkout', 'u1')).toBe(false);
    expect(client.isEnabled('new-checkout', 'u2')).toBe(true);
    client.set('new-checkout', false, 'u1'); // no change: no event
    client.set('new-checkout', undefined, 'u1');
    expect(client.isEnabled('new-checkout', 'u1')).toBe(true);
    client.set('new-checkout', undefined);
    expect(client.evaluate('new-checkout', 'u1', false).errorCode).toBe('FLAG_NOT_FOUND');
    expect(changes).toEqual([['new-checkout'], ['new-checkout'], ['new-checkout'], ['new-checkout']]);
    expect(client.version).toBe(5);
  });

  it('ready, events, track and close behave like the real client', async () => {
    const client = createTestClient({ flags: { a: true } });
    let ready = 0;
    client.once('ready', () => ready++);
    await expect(client.ready()).resolves.toBe(true);
    await expect(client.ready({ timeoutMs: 10, detailed: true })).resolves.toMatchObject({ ready: true });
    expect(ready).toBe(1);
    client.track('latency_ms', { userId: 'u1' }, 42);
    expect(client.tracked).toEqual([{ eventName: 'latency_ms', userId: 'u1', value: 42 }]);
    const stale: string[] = [];
    const off = client.on('stale', ({ reason }) => stale.push(reason));
    client.emit('stale', { reason: 'stream down' });
    off();
    client.emit('stale', { reason: 'not heard' });
    expect(stale).toEqual(['stream down']);
    const changes: unknown[] = [];
    client.on('change', (keys) => changes.push(keys));
    await client.close();
    client.set('a', false);
    expect(changes).toEqual([]); // listeners are gone after close, as with the real client
  });

  it('notReady: a rejected key or a timeout, serving defaults until set() makes it ready', async () => {
    const client = createTestClient({ flags: { a: true }, notReady: 'unauthorized' });
    const errors: SwitchyardError[] = [];
    client.on('error', (error) => errors.push(error));
    expect(client.isEnabled('a', 'u1')).toBe(false);
    expect(client.initialized).toBe(false);
    await expect(client.ready()).resolves.toBe(false);
    const detailed = await client.ready({ detailed: true });
    expect(detailed).toMatchObject({ ready: false, reason: 'unauthorized' });
    expect(detailed.error).toBeInstanceOf(SwitchyardError);
    expect(errors.map((e) => e.code)).toEqual(['UNAUTHORIZED']);

    const slow = createTestClient({ flags: { a: true }, notReady: 'timeout' });
    await expect(slow.ready({ timeoutMs: 5000, detailed: true })).resolves.toMatchObject({ ready: false, reason: 'timeout' });
    let ready = 0;
    slow.on('ready', () => ready++);
    slow.set('a', true);
    expect(ready).toBe(1);
    expect(slow.isEnabled('a', 'u1')).toBe(true);
  });

  it('refuses values that are not JSON, and options of the wrong shape, naming them', () => {
    expect(() => createTestClient({ flags: { a: (() => true) as never } })).toThrow('createTestClient: flags.a must be a JSON value');
    expect(() => createTestClient({ users: { u1: { a: Number.NaN } } })).toThrow('createTestClient: users.u1.a must be a JSON value, got NaN');
    expect(() => createTestClient({ flags: [] as never })).toThrow('createTestClient: flags must be an object of flag values');
    expect(() => createTestClient(null as never)).toThrow('createTestClient: options must be an object');
    const client = createTestClient();
    expect(() => client.set('a', Number.POSITIVE_INFINITY)).toThrow(/a must be a JSON value/);
  });

  it('webClient: the browser client API for one user, following set and identify', async () => {
    const client = createTestClient({ flags: { 'new-checkout': true, theme: 'dark' }, users: { u1: { 'new-checkout': false } } });
    const web = client.webClient({ targetingKey: 'u1' });
    const changes: string[][] = [];
    web.on('change', (keys) => changes.push(keys));
    expect(web.isEnabled('new-checkout')).toBe(false);
    expect(web.variation('theme', 'light')).toBe('dark');
    expect(web.variation('theme', 0)).toBe(0);
    await expect(web.identify({ targetingKey: 'u2' })).resolves.toBe(true);
    expect(web.isEnabled('new-checkout')).toBe(true);
    client.set('theme', 'light');
    expect(web.allFlags()).toEqual({ 'new-checkout': true, theme: 'light' });
    expect(changes).toEqual([['new-checkout'], ['theme']]);
  });
});

describe('createTestClient<Flags>: keys and defaults checked at compile time', () => {
  interface Flags {
    'new-checkout': boolean;
    'checkout-theme': 'light' | 'dark';
    limit: 10 | 20;
  }

  it('types values from the flag map; wrong keys and defaults do not compile (checked by tsc in `pnpm typecheck`)', () => {
    const client = createTestClient<Flags>({ flags: { 'new-checkout': true, 'checkout-theme': 'dark', limit: 10 } });
    expectTypeOf(client.variation('checkout-theme', 'u1', 'light')).toEqualTypeOf<'light' | 'dark'>();
    expectTypeOf(client.variation('limit', 'u1', 20)).toEqualTypeOf<10 | 20>();
    expectTypeOf(client.evaluate('new-checkout', 'u1', false).value).toEqualTypeOf<boolean>();
    expectTypeOf(client.allFlags('u1')).toEqualTypeOf<Partial<Flags>>();
    expect(client.variation('checkout-theme', 'u1', 'light')).toBe('dark');
    // @ts-expect-error: no such flag
    client.isEnabled('new-chekout', 'u1');
    // @ts-expect-error: not a boolean flag
    client.isEnabled('checkout-theme', 'u1');
    // @ts-expect-error: a default the flag cannot serve
    client.variation('checkout-theme', 'u1', 'blue');
    // @ts-expect-error: a default of the wrong type
    client.variation('limit', 'u1', '10');
    // @ts-expect-error: set checks values too
    client.set('checkout-theme', 'blue');
    // @ts-expect-error: and the initial values
    createTestClient<Flags>({ flags: { 'checkout-theme': 'blue' } });

    // Untyped (no type argument, as today): any key, any default, widened results.
    const untyped = createTestClient({ flags: { a: 'x' } });
    expectTypeOf(untyped.variation('anything', 'u1', 'light')).toEqualTypeOf<string>();
    expectTypeOf(untyped.isEnabled).parameter(0).toEqualTypeOf<string>();
  });
});
