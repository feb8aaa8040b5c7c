import { describe, expect, it } from 'vitest';
import type { Flag, FlagEnvironment } from '../api/types.js';
import { alignRules, compareEnvironments, compareUrl, describeServe, readCompareSelection } from './compare.js';

const base: FlagEnvironment = {
  on: true,
  killed: false,
  offVariation: 'off',
  targets: [],
  rules: [],
  defaultServe: { variation: 'off' },
  salt: 'checkout',
  bucketBy: 'userId',
  stage: 'off',
  stageSummary: 'off',
};
const dogfood = { id: 'dogfood', description: 'Internal users (dogfood)', clauses: [{ attribute: '', operator: 'in_segment' as const, values: ['internal'] }], serve: { variation: 'on' } };
const pro = { id: 'pro', clauses: [{ attribute: 'plan', operator: 'in' as const, values: ['pro'] }], serve: { variation: 'on' } };
const beta = { id: 'beta', clauses: [{ attribute: '', operator: 'in_segment' as const, values: ['beta'] }], serve: { variation: 'on' } };

const flag = (environments: Record<string, FlagEnvironment>): Flag => ({
  key: 'checkout',
  name: 'Checkout',
  description: '',
  tags: [],
  owner: '',
  type: 'boolean',
  variations: [
    { key: 'off', value: false },
    { key: 'on', value: true },
  ],
  archived: false,
  clientVisible: false,
  version: 4,
  createdAt: '',
  updatedAt: '',
  updatedBy: '',
  environments,
});

const ENVIRONMENTS = [
  { key: 'development', critical: false },
  { key: 'staging', critical: false },
  { key: 'production', critical: true },
];

describe('comparing two environments', () => {
  const staging: FlagEnvironment = {
    ...base,
    rules: [dogfood, pro],
    targets: [{ variation: 'on', values: ['alice'] }],
    defaultServe: { rollout: { variations: [{ variation: 'on', weight: 50000 }, { variation: 'off', weight: 50000 }] } },
    stage: 'custom',
    stageSummary: '50% + 1 rule + 1 target',
  };
  const production: FlagEnvironment = {
    ...base,
    rules: [dogfood, beta, pro],
    defaultServe: { rollout: { variations: [{ variation: 'on', weight: 10000 }, { variation: 'off', weight: 90000 }] } },
    stage: 'custom',
    stageSummary: '10% + 2 rules',
  };
  const rows = compareEnvironments(flag({ staging, production }), 'staging', 'production');
  const byId = (id: string) => rows.find((r) => r.id === id)!;

  it('marks what differs and what is the same', () => {
    expect(byId('on')).toMatchObject({ a: ['on'], b: ['on'], differs: false });
    expect(byId('stage')).toMatchObject({ a: ['custom: 50% + 1 rule + 1 target'], b: ['custom: 10% + 2 rules'], differs: true });
    expect(byId('stage').stage).toEqual({ a: { stage: 'custom', summary: '50% + 1 rule + 1 target' }, b: { stage: 'custom', summary: '10% + 2 rules' } });
    expect(byId('rollout')).toMatchObject({ a: ['50% on / 50% off'], b: ['10% on / 90% off'], differs: true });
    expect(byId('dogfood')).toMatchObject({ a: ['internal users get on'], differs: false });
    expect(byId('target:on')).toMatchObject({ a: ['alice'], b: ['nobody'], differs: true });
    expect(byId('killed').differs).toBe(false);
  });

  it('aligns rules by id: a rule added on one side leaves the others matched', () => {
    const ruleRows = rows.filter((r) => r.section === 'Rules (first match wins)');
    expect(ruleRows.map((r) => [r.label, r.differs])).toEqual([
      ['Rule dogfood', false],
      ['Rule beta (only in production)', true],
      ['Rule pro', false],
    ]);
    expect(byId('rule:beta:0').a).toBeUndefined();
    expect(byId('rule:beta:0')).toMatchObject({ b: ['beta', 'if in segment beta', 'serve on'], position: { b: 1 } });
    // pro is #2 in staging, #3 in production (beta came before it): the same rule, shown at its positions.
    expect(byId('rule:pro:0')).toMatchObject({ a: ['pro', 'if plan in pro', 'serve on'], b: ['pro', 'if plan in pro', 'serve on'], position: { a: 1, b: 2 } });
    expect(byId('rule:dogfood:0').a).toEqual(['dogfood — Internal users (dogfood)', 'if in segment internal', 'serve on']);
  });

  it('reports no differences for identical configurations and shows a kill', () => {
    const same = compareEnvironments(flag({ staging, production: staging }), 'staging', 'production');
    expect(same.filter((r) => r.differs)).toEqual([]);
    const killed = compareEnvironments(flag({ staging, production: { ...staging, on: false, killed: true, killedFrom: '50%' } }), 'staging', 'production');
    expect(killed.find((r) => r.id === 'killed')).toMatchObject({ a: ['not killed'], b: ['killed (was 50%)'], differs: true });
  });

  it('shows a missing environment as absent', () => {
    const missing = compareEnvironments(flag({ staging }), 'staging', 'qa');
    expect(missing.find((r) => r.id === 'on')).toMatchObject({ a: ['on'], b: undefined, differs: true });
  });

  it('describes rollouts with their own bucket-by and salt', () => {
    expect(describeServe({ rollout: { variations: [{ variation: 'a', weight: 33333 }, { variation: 'b', weight: 66667 }], bucketBy: 'orgId', salt: 's1' } })).toBe('33.333% a / 66.667% b by orgId (salt s1)');
  });

  it('aligns by longest common subsequence', () => {
    const ids = (...xs: string[]) => xs.map((id) => ({ id }));
    expect(alignRules(ids('a', 'b', 'c'), ids('a', 'c', 'd'))).toEqual([[0, 0], [1, undefined], [2, 1], [undefined, 2]]);
    expect(alignRules(ids('x', 'y'), ids('y', 'x'))).toEqual([[0, undefined], [1, 0], [undefined, 1]]);
    expect(alignRules([], [])).toEqual([]);
  });
});

describe('the compare URL', () => {
  it('round-trips a selection', () => {
    const url = compareUrl({ flag: 'new checkout', a: 'staging', b: 'production' });
    expect(url).toBe('/compare?flag=new+checkout&a=staging&b=production');
    expect(readCompareSelection(url.slice(url.indexOf('?')), ENVIRONMENTS)).toEqual({ flag: 'new checkout', a: 'staging', b: 'production' });
  });

  it('defaults to the critical environment and the one before it', () => {
    expect(readCompareSelection('', ENVIRONMENTS)).toEqual({ flag: '', a: 'staging', b: 'production' });
    expect(readCompareSelection('?flag=f&a=production', ENVIRONMENTS)).toEqual({ flag: 'f', a: 'production', b: 'development' });
    expect(readCompareSelection('?b=development', ENVIRONMENTS)).toEqual({ flag: '', a: 'staging', b: 'development' });
  });
});
