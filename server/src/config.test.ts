import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('defaults: bounded streams, a failed-authentication limit, no proxy trusted', () => {
    const config = loadConfig([], {});
    expect(config).toEqual(DEFAULT_CONFIG);
    expect(config).toMatchObject({ maxStreamsPerKey: 1_000, maxStreamsPerAddress: 1_000, maxDashboardStreams: 10, authFailuresPerMinute: 30, trustProxy: false });
  });

  const cases: { name: string; argv?: string[]; env?: Record<string, string>; expected: Record<string, unknown> }[] = [
    { name: 'stream bounds from the environment', env: { SWITCHYARD_MAX_STREAMS_PER_KEY: '5000', SWITCHYARD_MAX_DASHBOARD_STREAMS: '4' }, expected: { maxStreamsPerKey: 5000, maxDashboardStreams: 4 } },
    { name: 'a flag overrides the environment', argv: ['--max-streams-per-key', '20'], env: { SWITCHYARD_MAX_STREAMS_PER_KEY: '5000' }, expected: { maxStreamsPerKey: 20 } },
    { name: 'streams per client address', argv: ['--max-streams-per-address', '50'], env: { SWITCHYARD_MAX_STREAMS_PER_ADDRESS: '5000' }, expected: { maxStreamsPerAddress: 50 } },
    { name: 'the failed-authentication limit', argv: ['--auth-failures-per-minute', '100'], expected: { authFailuresPerMinute: 100 } },
    { name: 'the sync may bypass approvals, with a reason', argv: ['--sync', 'flags/', '--sync-bypass-approvals', 'main is protected'], expected: { syncPath: 'flags/', syncBypassApprovals: 'main is protected' } },
    { name: 'the sync bypass reason from the environment', env: { SWITCHYARD_SYNC_BYPASS_APPROVALS: ' reviews on main ' }, expected: { syncBypassApprovals: 'reviews on main' } },
    { name: 'trust proxy: true', env: { SWITCHYARD_TRUST_PROXY: 'true' }, expected: { trustProxy: true } },
    { name: 'trust proxy: false', env: { SWITCHYARD_TRUST_PROXY: 'FALSE' }, expected: { trustProxy: false } },
    { name: 'trust proxy: one address', argv: ['--trust-proxy', '10.0.0.2'], expected: { trustProxy: ['10.0.0.2'] } },
    {
      name: 'trust proxy: addresses, ranges and named ranges',
      env: { SWITCHYARD_TRUST_PROXY: ' 10.0.0.0/8, fd00::/8 ,loopback,::1' },
      expected: { trustProxy: ['10.0.0.0/8', 'fd00::/8', 'loopback', '::1'] },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(loadConfig(c.argv ?? [], c.env ?? {})).toMatchObject(c.expected);
    });
  }

  const bad: { name: string; argv?: string[]; env?: Record<string, string>; message: RegExp }[] = [
    { name: 'zero streams per key', env: { SWITCHYARD_MAX_STREAMS_PER_KEY: '0' }, message: /SWITCHYARD_MAX_STREAMS_PER_KEY: .*>=\s*1/ },
    { name: 'streams per address not a number', env: { SWITCHYARD_MAX_STREAMS_PER_ADDRESS: 'lots' }, message: /SWITCHYARD_MAX_STREAMS_PER_ADDRESS/ },
    { name: 'a non-number', argv: ['--max-dashboard-streams', 'many'], message: /--max-dashboard-streams: / },
    { name: 'a fractional limit', env: { SWITCHYARD_AUTH_FAILURES_PER_MINUTE: '2.5' }, message: /SWITCHYARD_AUTH_FAILURES_PER_MINUTE: / },
    { name: 'a hop count', env: { SWITCHYARD_TRUST_PROXY: '2' }, message: /SWITCHYARD_TRUST_PROXY: hop counts are not accepted/ },
    { name: 'a host name', argv: ['--trust-proxy', 'proxy.internal'], message: /--trust-proxy: .*not an address: proxy\.internal/ },
    { name: 'a bad range', env: { SWITCHYARD_TRUST_PROXY: '10.0.0.0/33' }, message: /not an address: 10\.0\.0\.0\/33/ },
    { name: 'an empty list', env: { SWITCHYARD_TRUST_PROXY: ',' }, message: /SWITCHYARD_TRUST_PROXY: must be true, false, or a comma-separated list/ },
    { name: 'a blank sync bypass reason', argv: ['--sync-bypass-approvals', '  '], message: /--sync-bypass-approvals: / },
  ];
  for (const c of bad) {
    it(`refuses ${c.name}, naming the setting`, () => {
      const load = () => loadConfig(c.argv ?? [], c.env ?? {});
      expect(load).toThrow(ConfigError);
      expect(load).toThrow(c.message);
    });
  }
});

describe('lifecycle days', () => {
  it('default to 7, 7 and 30, and are set by flag or environment; a bad one names its setting', () => {
    expect(loadConfig([], {})).toMatchObject({ lifecycleNewDays: 7, lifecycleLaunchedDays: 7, lifecycleStaleDays: 30 });
    expect(loadConfig(['--lifecycle-stale-days', '90'], { SWITCHYARD_LIFECYCLE_LAUNCHED_DAYS: '14' })).toMatchObject({ lifecycleLaunchedDays: 14, lifecycleStaleDays: 90 });
    expect(() => loadConfig([], { SWITCHYARD_LIFECYCLE_STALE_DAYS: '0' })).toThrow(/SWITCHYARD_LIFECYCLE_STALE_DAYS/);
  });
});
