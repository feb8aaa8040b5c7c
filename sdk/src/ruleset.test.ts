import { describe, expect, it } from 'vitest';
import { toFlagConfig, type FlagDefinition } from './ruleset.js';

const flag: FlagDefinition = {
  key: 'checkout',
  type: 'boolean',
  variations: [
    { key: 'off', value: false },
    { key: 'on', value: true },
  ],
  archived: false,
  version: 7,
  environments: {
    production: { on: true, offVariation: 'off', targets: [], rules: [], defaultServe: { variation: 'on' }, salt: 'checkout', bucketBy: 'userId' },
  },
};

describe('toFlagConfig', () => {
  it('maps one environment, stamping the flag version', () => {
    expect(toFlagConfig(flag, 'production')).toEqual({ key: 'checkout', type: 'boolean', variations: flag.variations, on: true, offVariation: 'off', targets: [], rules: [], defaultServe: { variation: 'on' }, salt: 'checkout', bucketBy: 'userId', version: 7 });
  });

  it('hides archived flags and unknown environments from SDKs', () => {
    expect(toFlagConfig({ ...flag, archived: true }, 'production')).toBeNull();
    expect(toFlagConfig(flag, 'staging')).toBeNull();
  });

  it('carries the guarded marker only while a guarded rollout runs', () => {
    const guarded = { ...flag, environments: { production: { ...flag.environments.production!, guarded: true } } };
    expect(toFlagConfig(guarded, 'production')).toMatchObject({ guarded: true });
    expect(toFlagConfig(flag, 'production')).not.toHaveProperty('guarded');
  });
});
