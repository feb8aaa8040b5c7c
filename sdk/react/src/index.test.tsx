import { createClient, type FlagConfig, type RuleSet } from '@switchyard/sdk';
import type { FlagValues, WebClient, WebFetch } from '@switchyard/sdk/web';
import { renderToString } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { bootstrapFor, inlineJson, SwitchyardProvider, useFlag, useFlagsReady, useSwitchyardClient, useVariation } from './index.js';

/**
 * Server rendering: every hook answers from the bootstrap values, never from a client, so the
 * server HTML equals the first (hydrating) render in the browser. The live behaviour in a browser
 * (change events, cache after reload) is tested in test/browser/react-app.test.ts.
 */

function Flags() {
  const checkout = useFlag('new-checkout');
  const missing = useFlag('missing', true);
  const layout = useVariation('layout', 'classic');
  const limits = useVariation('limits', { items: 1 });
  const wrongType = useVariation('layout', 0);
  const ready = useFlagsReady();
  return <p>{JSON.stringify({ checkout, missing, layout, limits, wrongType, ready, hasClient: useSwitchyardClient() !== null })}</p>;
}

const rendered = (html: string) => JSON.parse(html.replace(/^<p>|<\/p>$/g, '').replace(/&quot;/g, '"')) as Record<string, unknown>;

/** A client whose values differ from the bootstrap: the server render must not read them. */
function clientWith(values: FlagValues): WebClient {
  return {
    isEnabled: (flag, defaultValue = false) => (typeof values[flag] === 'boolean' ? (values[flag] as boolean) : defaultValue),
    variation: (flag, defaultValue) => (values[flag] ?? defaultValue) as typeof defaultValue,
    allFlags: () => ({ ...values }),
    identify: () => Promise.resolve(true),
    on: () => () => {},
    ready: () => Promise.resolve(true),
    close: () => {},
    insightsStats: () => ({ flushed: 0, dropped: 0 }),
  };
}

const BOOTSTRAP = { 'new-checkout': true, layout: 'compact', limits: { items: 5 } };

describe('server rendering', () => {
  it('renders the bootstrap values, with the default for unknown flags and values of another type', () => {
    const html = renderToString(
      <SwitchyardProvider bootstrap={BOOTSTRAP}>
        <Flags />
      </SwitchyardProvider>,
    );
    expect(rendered(html)).toEqual({ checkout: true, missing: true, layout: 'compact', limits: { items: 5 }, wrongType: 0, ready: false, hasClient: false });
  });

  it('renders the bootstrap values even when given a client holding other values (what hydration will render)', () => {
    const html = renderToString(
      <SwitchyardProvider client={clientWith({ 'new-checkout': false, layout: 'wide' })} bootstrap={BOOTSTRAP}>
        <Flags />
      </SwitchyardProvider>,
    );
    expect(rendered(html)).toMatchObject({ checkout: true, layout: 'compact' });
  });

  it('does not create a client (no request) while rendering a provider given options', () => {
    const requests: string[] = [];
    const fetch: WebFetch = (url) => {
      requests.push(url);
      return new Promise(() => {});
    };
    const html = renderToString(
      <SwitchyardProvider options={{ url: 'http://flags.test', clientKey: 'key', context: { targetingKey: 'u1' }, bootstrap: BOOTSTRAP, storage: null, fetch }}>
        <Flags />
      </SwitchyardProvider>,
    );
    expect(rendered(html)).toMatchObject({ checkout: true, layout: 'compact', hasClient: false });
    expect(requests).toEqual([]);
  });

  it('renders defaults without bootstrap values', () => {
    const html = renderToString(
      <SwitchyardProvider>
        <Flags />
      </SwitchyardProvider>,
    );
    expect(rendered(html)).toMatchObject({ checkout: false, missing: true, layout: 'classic', limits: { items: 1 } });
  });

  it('names the mistake when a hook is used outside the provider', () => {
    expect(() => renderToString(<Flags />)).toThrow('useFlag() must be called inside <SwitchyardProvider>');
  });
});

describe('bootstrapFor', () => {
  const flag = (key: string, on: boolean, clientVisible = true): FlagConfig => ({
    key,
    type: 'boolean',
    variations: [
      { key: 'off', value: false },
      { key: 'on', value: true },
    ],
    on,
    offVariation: 'off',
    targets: [{ variation: 'off', values: ['blocked-user'] }],
    rules: [],
    defaultServe: { variation: 'on' },
    salt: key,
    bucketBy: 'userId',
    version: 1,
    ...(clientVisible ? { clientVisible: true } : {}),
  });
  const rules: RuleSet = {
    environment: 'production',
    version: 1,
    flags: { 'new-checkout': flag('new-checkout', true), legacy: flag('legacy', false), 'internal-only': flag('internal-only', true, false) },
    segments: {},
  };

  // The Node SDK names the user `userId`; the web client (OFREP) names the same user `targetingKey`.
  // What a client key would get: flags not visible to client keys never reach the page.
  it("computes the user's values of client-visible flags with the Node SDK, for the provider and the web client", () => {
    const client = createClient({ url: 'http://flags.test', sdkKey: 'key', bootstrap: rules, fetch: () => new Promise(() => {}) });
    try {
      expect(bootstrapFor(client, { userId: 'user-1' })).toEqual({ 'new-checkout': true, legacy: false });
      expect(bootstrapFor(client, { userId: 'blocked-user' })).toEqual({ 'new-checkout': false, legacy: false });
      // A source without a rule set (a plain object of values) is passed through.
      expect(bootstrapFor({ allFlags: () => ({ a: 1 }) }, {})).toEqual({ a: 1 });
    } finally {
      client.close();
    }
  });
});

describe('inlineJson', () => {
  it('cannot close the script it is embedded in', () => {
    const values = { banner: '</script><script>alert(1)</script>', amp: 'a&b', sep: '\u2028' };
    const json = inlineJson(values);
    expect(json).not.toMatch(/[<>&\u2028]/);
    expect(JSON.parse(json)).toEqual(values);
  });
});
