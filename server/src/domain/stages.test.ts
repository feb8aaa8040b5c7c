import type { Rule } from '@switchyard/sdk';
import { describe, expect, it } from 'vitest';
import { BOOLEAN_VARIATIONS, defaultFlagEnvironment } from './flag-defaults.js';
import type { FlagEnvironment } from './flags.js';
import { compactEntry } from './gitops/entries.js';
import { applyStage, deriveStage, describeTargeting, rampStage, type ReleaseStage, type StageDescription } from './stages.js';

/** A boolean flag's configuration in one environment (`off` → false, `on` → true). */
const fresh = (): FlagEnvironment => defaultFlagEnvironment('checkout', BOOLEAN_VARIATIONS, 'boolean');
const at = (stage: ReleaseStage, config: FlagEnvironment = fresh()): FlagEnvironment => applyStage(config, stage, 'on');
const proRule: Rule = { id: 'pro', clauses: [{ attribute: 'plan', operator: 'in', values: ['pro'] }], serve: { variation: 'on' } };
const withRules = (config: FlagEnvironment, ...rules: Rule[]): FlagEnvironment => ({ ...config, rules: [...config.rules, ...rules] });
const rollout = (inside: number, extra: { bucketBy?: string; salt?: string } = {}) => ({
  rollout: {
    variations: [
      { variation: 'on', weight: inside },
      { variation: 'off', weight: 100_000 - inside },
    ],
    ...extra,
  },
});

interface Case {
  name: string;
  config: FlagEnvironment;
  expected: StageDescription;
}

const exact = (stage: StageDescription['stage'], summary: string = stage): StageDescription => ({ stage, summary, killedFrom: null });
const custom = (summary: string): StageDescription => ({ stage: 'custom', summary, killedFrom: null });

const cases: Case[] = [
  { name: 'a new flag', config: fresh(), expected: exact('off') },
  { name: 'dogfood', config: at('dogfood'), expected: exact('dogfood') },
  { name: '10%', config: at('10%'), expected: exact('10%') },
  { name: '0.5%', config: at('0.5%'), expected: exact('0.5%') },
  { name: '100%', config: at('100%'), expected: exact('100%') },
  { name: 'a rolled-back canary (10% → dogfood): dogfood users still have it', config: at('dogfood', at('10%')), expected: exact('dogfood') },
  { name: 'the issue: dogfood plus `plan in [pro]` serving the release variation', config: withRules(at('dogfood'), proRule), expected: custom('dogfood + 1 rule') },
  { name: '10% plus two individually targeted users', config: { ...at('10%'), targets: [{ variation: 'on', values: ['qa-1', 'qa-2'] }] }, expected: custom('10% + 2 targets') },
  { name: '100% plus a rule and a target', config: { ...withRules(at('100%'), { ...proRule, serve: { variation: 'off' } }), targets: [{ variation: 'off', values: ['angry-customer'] }] }, expected: custom('100% + 1 rule + 1 target') },
  { name: 'on with a rule but no dogfood and nobody else', config: { ...fresh(), on: true, rules: [proRule] }, expected: custom('1 rule only') },
  { name: 'on with targets only', config: { ...fresh(), on: true, targets: [{ variation: 'on', values: ['qa-1'] }] }, expected: custom('1 target only') },
  { name: 'on, but every rule serves the off variation: nobody gets it', config: { ...fresh(), on: true, rules: [{ ...proRule, serve: { variation: 'off' } }] }, expected: exact('off') },
  { name: 'a 30% rollout without the dogfood rule', config: { ...fresh(), on: true, defaultServe: rollout(30_000) }, expected: custom('30% without dogfood') },
  { name: 'a 10% rollout by another attribute', config: { ...at('10%'), defaultServe: rollout(10_000, { bucketBy: 'accountId' }) }, expected: custom('10% by accountId') },
  { name: 'a 10% rollout with its own salt', config: { ...at('10%'), defaultServe: rollout(10_000, { salt: 'other' }) }, expected: custom('10% (own salt)') },
  {
    name: 'dogfood plus a split that is not a release',
    config: { ...at('dogfood'), defaultServe: { rollout: { variations: [{ variation: 'off', weight: 60_000 }, { variation: 'on', weight: 40_000 }] } } },
    expected: custom('dogfood + split 60% off / 40% on'),
  },
  { name: 'off with a rule left from before: nobody gets it', config: withRules(at('off'), proRule), expected: exact('off') },
  { name: 'killed at 100%', config: at('kill', at('100%')), expected: { stage: 'kill', summary: 'killed (was 100%)', killedFrom: '100%' } },
  { name: 'killed at 10% with a target', config: at('kill', { ...at('10%'), targets: [{ variation: 'on', values: ['qa-1'] }] }), expected: { stage: 'kill', summary: 'killed (was 10% + 1 target)', killedFrom: '10%' } },
  { name: 'killed at dogfood + 1 rule', config: at('kill', withRules(at('dogfood'), proRule)), expected: { stage: 'kill', summary: 'killed (was dogfood + 1 rule)', killedFrom: 'dogfood' } },
  { name: 'killed while off', config: at('kill'), expected: { stage: 'kill', summary: 'killed (was off)', killedFrom: 'off' } },
  {
    name: 'killed while off with dormant 100% targeting (on: false by hand): it was off, not 100%',
    config: at('kill', { ...at('100%'), on: false }),
    expected: { stage: 'kill', summary: 'killed (was off)', killedFrom: 'off' },
  },
  { name: 'killed twice: still remembers', config: at('kill', at('kill', at('50%'))), expected: { stage: 'kill', summary: 'killed (was 50%)', killedFrom: '50%' } },
  { name: 'killed from a configuration at no stage: nothing to restore', config: at('kill', { ...fresh(), on: true, defaultServe: rollout(30_000) }), expected: { stage: 'kill', summary: 'killed (was 30% without dogfood)', killedFrom: null } },
  { name: 'killed from a rule only: nothing to restore', config: at('kill', { ...fresh(), on: true, rules: [proRule] }), expected: { stage: 'kill', summary: 'killed (was 1 rule only)', killedFrom: null } },
];

describe('describeTargeting', () => {
  it.each(cases)('$name', ({ config, expected }) => {
    expect(describeTargeting(config)).toEqual(expected);
    expect(deriveStage(config)).toBe(expected.stage);
  });

  it('never calls the issue’s configuration "dogfood": a pro user gets the release variation', () => {
    const config = withRules(at('dogfood'), proRule);
    expect(deriveStage(config)).not.toBe('dogfood');
    expect(describeTargeting(config).summary).toBe('dogfood + 1 rule');
  });
});

describe('rampStage', () => {
  it('reads the dogfood and default rules alone, where a stage change starts from', () => {
    expect(rampStage(withRules(at('dogfood'), proRule))).toBe('dogfood');
    expect(rampStage({ ...at('10%'), targets: [{ variation: 'on', values: ['qa-1'] }] })).toBe('10%');
    expect(rampStage(at('kill', at('10%')))).toBe('kill');
    expect(rampStage({ ...fresh(), on: true, defaultServe: rollout(30_000) })).toBe('custom');
  });
});

describe('restoring a kill', () => {
  const before: { name: string; config: FlagEnvironment }[] = [
    { name: '100%', config: at('100%') },
    { name: '0.5%', config: at('0.5%') },
    { name: 'dogfood + 1 rule', config: withRules(at('dogfood'), proRule) },
    { name: '10% + 2 targets', config: { ...at('10%'), targets: [{ variation: 'on', values: ['qa-1', 'qa-2'] }] } },
  ];
  it.each(before)('one stage change back to `killedFrom` gives back $name exactly', ({ config }) => {
    const killed = at('kill', config);
    const { killedFrom } = describeTargeting(killed);
    expect(killedFrom).not.toBeNull();
    expect(applyStage(killed, killedFrom!, 'on')).toEqual(config);
  });
});

describe('GitOps export', () => {
  const flag = { key: 'checkout', type: 'boolean' as const, variations: BOOLEAN_VARIATIONS };
  it('writes `stage:` only for a configuration that is exactly that stage', () => {
    expect(compactEntry(flag, at('dogfood'))).toEqual({ stage: 'dogfood' });
    const issue = withRules(at('dogfood'), proRule);
    const entry = compactEntry(flag, issue);
    expect(entry).not.toHaveProperty('stage');
    expect(entry).toMatchObject({ rules: issue.rules });
  });
});
