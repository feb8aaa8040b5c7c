import { ErrorCode, OpenFeature, ProviderEvents, ProviderStatus, type EventDetails } from '@openfeature/server-sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from './client.js';
import { SwitchyardProvider, toSwitchyardContext } from './openfeature.js';
import { silentLogger } from './options.js';
import { booleanFlag, FakeClock, FakeServer, ruleSet, settle } from './testing/fakes.js';
import type { FlagConfig } from './types.js';

const theme: FlagConfig = {
  ...booleanFlag('theme', true),
  type: 'string',
  variations: [
    { key: 'light', value: 'light' },
    { key: 'dark', value: 'dark' },
  ],
  offVariation: 'light',
  targets: [{ variation: 'dark', values: ['vip'] }],
  defaultServe: { variation: 'light' },
};
const limits: FlagConfig = { ...booleanFlag('limits', true), type: 'json', variations: [{ key: 'std', value: { rpm: 60 } }], offVariation: 'std', defaultServe: { variation: 'std' } };
const retries: FlagConfig = { ...booleanFlag('retries', true), type: 'number', variations: [{ key: 'three', value: 3 }], offVariation: 'three', defaultServe: { variation: 'three' } };
const ramp: FlagConfig = {
  ...booleanFlag('ramp', true),
  rules: [{ id: 'staff', clauses: [{ attribute: 'email', operator: 'ends_with', values: ['@corp.example'] }], serve: { variation: 'on' } }],
  defaultServe: { rollout: { variations: [{ variation: 'on', weight: 10_000 }, { variation: 'off', weight: 90_000 }] } },
};
const byPlan: FlagConfig = {
  ...booleanFlag('by-plan', true),
  rules: [{ id: 'pro', clauses: [{ attribute: 'company.plan', operator: 'in', values: ['pro'] }], serve: { variation: 'on' } }],
  defaultServe: { variation: 'off' },
};
const rules = ruleSet(3, [booleanFlag('checkout', true), booleanFlag('killed', false), theme, limits, retries, ramp, byPlan]);

afterEach(async () => {
  await OpenFeature.close();
  OpenFeature.clearHandlers();
});

function makeProvider(server = new FakeServer(rules), clock = new FakeClock()) {
  const client = createClient({ url: 'http://sy.test', sdkKey: 'k', fetch: server.fetch, clock, random: () => 0.5, logger: silentLogger });
  return { provider: new SwitchyardProvider(client, { initTimeoutMs: 5_000 }), server, clock, client };
}

describe('SwitchyardProvider through OpenFeature', () => {
  it('resolves every type with value, variant and reason', async () => {
    const { provider } = makeProvider();
    expect(provider.metadata.name).toBe('switchyard');
    await OpenFeature.setProviderAndWait(provider);
    const of = OpenFeature.getClient();
    expect(await of.getBooleanDetails('checkout', false, { targetingKey: 'u1' })).toMatchObject({ value: true, variant: 'on', reason: 'STATIC' });
    expect(await of.getBooleanDetails('killed', true, { targetingKey: 'u1' })).toMatchObject({ value: false, variant: 'off', reason: 'DISABLED' });
    expect(await of.getStringDetails('theme', 'x', { targetingKey: 'vip' })).toMatchObject({ value: 'dark', variant: 'dark', reason: 'TARGETING_MATCH' });
    expect(await of.getNumberValue('retries', 0)).toBe(3);
    expect(await of.getObjectValue('limits', {})).toEqual({ rpm: 60 });
    expect(await of.getBooleanDetails('ramp', false, { email: 'ann@corp.example' })).toMatchObject({ value: true, reason: 'TARGETING_MATCH', flagMetadata: { ruleId: 'staff' } });
  });

  it('maps errors: FLAG_NOT_FOUND, TYPE_MISMATCH, TARGETING_KEY_MISSING only when a rollout needs the key', async () => {
    const { provider } = makeProvider();
    await OpenFeature.setProviderAndWait(provider);
    const of = OpenFeature.getClient();
    expect(await of.getBooleanDetails('missing', true)).toMatchObject({ value: true, errorCode: ErrorCode.FLAG_NOT_FOUND, reason: 'ERROR' });
    expect(await of.getNumberDetails('theme', 7)).toMatchObject({ value: 7, errorCode: ErrorCode.TYPE_MISMATCH });
    expect(await of.getObjectDetails('checkout', { a: 1 })).toMatchObject({ value: { a: 1 }, errorCode: ErrorCode.TYPE_MISMATCH });
    expect(await of.getBooleanDetails('ramp', true, {})).toMatchObject({ value: true, errorCode: ErrorCode.TARGETING_KEY_MISSING });
    // No key needed: a static flag, a disabled flag, a rule match.
    expect((await of.getBooleanDetails('checkout', false, {})).errorCode).toBeUndefined();
    expect((await of.getBooleanDetails('killed', true, {})).errorCode).toBeUndefined();
    expect((await of.getBooleanDetails('ramp', false, { email: 'x@corp.example' })).errorCode).toBeUndefined();
    const withKey = await of.getBooleanDetails('ramp', true, { targetingKey: 'someone' });
    expect(withKey).toMatchObject({ reason: 'SPLIT' });
    expect(withKey.errorCode).toBeUndefined();
    // An empty targetingKey is no key, as in remote evaluation.
    expect(await of.getBooleanDetails('ramp', true, { targetingKey: '' })).toMatchObject({ value: true, reason: 'ERROR', errorCode: ErrorCode.TARGETING_KEY_MISSING });
  });

  it('targetingKey wins over a userId attribute, as in remote evaluation', async () => {
    await OpenFeature.setProviderAndWait(makeProvider().provider);
    const of = OpenFeature.getClient();
    expect(await of.getStringDetails('theme', 'x', { targetingKey: 'vip', userId: 'someone' })).toMatchObject({ value: 'dark', reason: 'TARGETING_MATCH' });
    expect(await of.getStringDetails('theme', 'x', { targetingKey: 'someone', userId: 'vip' })).toMatchObject({ value: 'light', reason: 'STATIC' });
    expect(await of.getStringDetails('theme', 'x', { targetingKey: '', userId: 'vip' })).toMatchObject({ value: 'dark', reason: 'TARGETING_MATCH' });
  });

  it('matches nested context attributes by dot path', async () => {
    await OpenFeature.setProviderAndWait(makeProvider().provider);
    const of = OpenFeature.getClient();
    expect(await of.getBooleanDetails('by-plan', false, { targetingKey: 'u', company: { plan: 'pro' } })).toMatchObject({ value: true, reason: 'TARGETING_MATCH' });
    expect(await of.getBooleanDetails('by-plan', true, { targetingKey: 'u', company: { plan: 'free' } })).toMatchObject({ value: false, reason: 'STATIC' });
  });

  it('reports PROVIDER_NOT_READY before the first rule set, then READY when it arrives', async () => {
    const server = new FakeServer(rules);
    const serve = server.stream;
    server.stream = () => 'hang';
    const { provider, clock } = makeProvider(server);
    expect(await provider.resolveBooleanEvaluation('checkout', false, {})).toMatchObject({ value: false, errorCode: ErrorCode.PROVIDER_NOT_READY });
    const setting = OpenFeature.setProviderAndWait(provider).then(
      () => 'ready',
      (error: Error) => error.message,
    );
    const events: string[] = [];
    OpenFeature.addHandler(ProviderEvents.Ready, () => events.push('ready'));
    OpenFeature.addHandler(ProviderEvents.Error, () => events.push('error'));
    await clock.advance(5_000);
    await expect(setting).resolves.toMatch(/no rules within 5000 ms/);
    const of = OpenFeature.getClient();
    expect(of.providerStatus).toBe(ProviderStatus.ERROR);
    expect(await of.getBooleanDetails('checkout', false, { targetingKey: 'u' })).toMatchObject({ value: false, errorCode: ErrorCode.PROVIDER_NOT_READY });
    server.stream = serve;
    await clock.advance(45_000); // the hung connection times out; the retry gets the snapshot
    await settle();
    expect(of.providerStatus).toBe(ProviderStatus.READY);
    expect(events).toEqual(['error', 'ready']);
    expect(await of.getBooleanValue('checkout', false, { targetingKey: 'u' })).toBe(true);
  });

  it('emits CONFIGURATION_CHANGED with flagsChanged, STALE, and closes the client', async () => {
    const { provider, server, clock, client } = makeProvider();
    await OpenFeature.setProviderAndWait(provider);
    const changed: EventDetails[] = [];
    OpenFeature.addHandler(ProviderEvents.ConfigurationChanged, (details) => void changed.push(details!));
    server.lastStream!.event('patch', { version: 4, flags: { checkout: booleanFlag('checkout', false, 2) } }, 4);
    await clock.advance(0);
    expect(changed.map((d) => d.flagsChanged)).toEqual([['checkout']]);
    expect(await OpenFeature.getClient().getBooleanValue('checkout', true)).toBe(false);

    const stale: string[] = [];
    OpenFeature.addHandler(ProviderEvents.Stale, () => void stale.push('stale'));
    server.stream = () => new Response(null, { status: 500 });
    server.rules = () => new Response(null, { status: 500 });
    server.lastStream!.end();
    await clock.advance(10_000);
    expect(stale).toEqual(['stale']);
    expect(OpenFeature.getClient().providerStatus).toBe(ProviderStatus.STALE);

    await OpenFeature.close();
    expect(clock.pending).toBe(0);
    expect(client.isEnabled('checkout', 'u', true)).toBe(false); // closed, still answers
  });
});

describe('toSwitchyardContext', () => {
  it('maps targetingKey to userId and keeps scalar attributes', () => {
    const when = new Date('2026-01-02T03:04:05Z');
    expect(toSwitchyardContext({ targetingKey: 'u1', userId: 'ignored', plan: 'pro', seats: 3, beta: true, tags: ['a', 1, { x: 1 }], since: when, nested: { a: 1, at: when, n: NaN } })).toEqual({
      userId: 'u1',
      plan: 'pro',
      seats: 3,
      beta: true,
      tags: ['a', 1],
      since: '2026-01-02T03:04:05.000Z',
      nested: { a: 1, at: '2026-01-02T03:04:05.000Z' },
    });
    const deep = { a: { b: { c: { d: { e: { f: { g: { h: { i: 'too deep' } } } } } } } } };
    expect(JSON.stringify(toSwitchyardContext(deep))).toBe('{"a":{"b":{"c":{"d":{"e":{"f":{"g":{}}}}}}}}');
    expect(toSwitchyardContext({ userId: 'kept' })).toEqual({ userId: 'kept' });
  });
});
