import { describe, expect, it } from 'vitest';
import type { FlagEnvironment } from '../api/types.js';
import { emailDomains, normaliseDomain, parseIdList, withEmailDomains } from './dogfood.js';
import { errorsAt, relativePath, toFieldErrors } from './field-errors.js';
import { keyFromName, keyProblem } from './flag-key.js';
import { fromTargetingDraft, newRuleId, toTargetingDraft } from './targeting-form.js';
import { fromVariationDrafts, toVariationDrafts } from './variations-form.js';
import { diffSnapshots } from './diff.js';

const config: FlagEnvironment = {
  on: true,
  killed: false,
  offVariation: 'off',
  targets: [{ variation: 'on', values: ['alice', 'bob'] }],
  rules: [
    { id: 'dogfood', description: 'Internal users (dogfood)', clauses: [{ attribute: '', operator: 'in_segment', values: ['internal'] }], serve: { variation: 'on' } },
    { id: 'big-accounts', clauses: [{ attribute: 'seats', operator: 'gte', values: [100] }], serve: { rollout: { variations: [{ variation: 'on', weight: 33333 }, { variation: 'off', weight: 66667 }], salt: 's' } } },
  ],
  defaultServe: { rollout: { variations: [{ variation: 'on', weight: 10000 }, { variation: 'off', weight: 90000 }] } },
  salt: 'f',
  bucketBy: 'userId',
  stage: '10%',
};

describe('targeting form ↔ API', () => {
  it('round-trips a configuration unchanged', () => {
    const { stage: _stage, on: _on, killed: _killed, salt: _salt, bucketBy: _b, ...expected } = config;
    expect(fromTargetingDraft(toTargetingDraft(config))).toEqual(expected);
  });

  it('shows weights as percentages and numbers for numeric operators', () => {
    const draft = toTargetingDraft(config);
    expect(draft.defaultServe.shares).toEqual([{ variation: 'on', percent: '10' }, { variation: 'off', percent: '90' }]);
    expect(draft.rules[1]!.serve.shares[0]!.percent).toBe('33.333');
    draft.rules[1]!.clauses[0]!.values = '5, 10';
    draft.targets[0]!.values = 'alice\ncarol, alice';
    const patch = fromTargetingDraft(draft);
    expect(patch.rules[1]!.clauses[0]!.values).toEqual([5, 10]);
    expect(patch.targets[0]!.values).toEqual(['alice', 'carol']);
  });

  it('keeps a non-numeric value for numeric operators so the server names the field', () => {
    const draft = toTargetingDraft(config);
    draft.rules[1]!.clauses[0]!.values = 'lots';
    expect(fromTargetingDraft(draft).rules[1]!.clauses[0]!.values).toEqual(['lots']);
  });

  it('round-trips prerequisites, sends [] to clear them, and leaves out rows without a flag', () => {
    const withPrerequisites: FlagEnvironment = { ...config, prerequisites: [{ flag: 'payments', variation: 'on' }] };
    const draft = toTargetingDraft(withPrerequisites);
    expect(draft.prerequisites).toEqual([{ flag: 'payments', variation: 'on' }]);
    expect(fromTargetingDraft(draft).prerequisites).toEqual([{ flag: 'payments', variation: 'on' }]);
    expect(fromTargetingDraft({ ...draft, prerequisites: [] }).prerequisites).toEqual([]);
    expect(fromTargetingDraft({ ...draft, prerequisites: [...draft.prerequisites!, { flag: '', variation: '' }] }).prerequisites).toHaveLength(1);
    // None before and none added: the patch does not mention them.
    expect(fromTargetingDraft(toTargetingDraft(config))).not.toHaveProperty('prerequisites');
  });

  it('picks fresh rule ids', () => {
    expect(newRuleId([{ id: 'rule-2' }, { id: 'x' }])).toBe('rule-3');
  });
});

describe('variations form', () => {
  it('maps values by flag type', () => {
    const drafts = toVariationDrafts('json', [{ key: 'a', value: { x: 1 } }, { key: 'b', value: [1] }]);
    expect(drafts[0]!.value).toBe('{"x":1}');
    expect(fromVariationDrafts('json', drafts)).toEqual({ variations: [{ key: 'a', value: { x: 1 } }, { key: 'b', value: [1] }] });
    expect(fromVariationDrafts('string', [{ key: 'a', name: '', value: 'plain' }])).toEqual({ variations: [{ key: 'a', value: 'plain' }] });
  });
  it('reports bad JSON at the API path', () => {
    expect(fromVariationDrafts('number', [{ key: 'a', name: '', value: 'x' }])).toEqual({ errors: [{ path: 'variations[0].value', message: 'not a number' }] });
  });
});

describe('API error paths → fields', () => {
  const details = [
    { path: 'body.rules[1].clauses[0].values[0]', message: 'operator gte compares numbers; got "lots"' },
    { path: 'environments.production.rules[0].id', message: 'duplicate rule id "x"' },
    { path: 'body.defaultServe.rollout.variations', message: 'weights must sum to 100000' },
  ];
  it('strips body and environment prefixes', () => {
    expect(relativePath('body.targets[0].variation')).toBe('targets[0].variation');
    expect(relativePath('environments.production.offVariation', 'production')).toBe('offVariation');
    expect(relativePath('environments.staging.offVariation', 'production')).toBe('environments.staging.offVariation');
  });
  it('finds messages for a field and its children', () => {
    const errors = toFieldErrors(details, 'production');
    expect(errorsAt(errors, 'rules[1].clauses[0].values')).toEqual(['operator gte compares numbers; got "lots"']);
    expect(errorsAt(errors, 'rules[0].id')).toEqual(['duplicate rule id "x"']);
    expect(errorsAt(errors, 'rules[1]')).toHaveLength(1);
    expect(errorsAt(errors, 'rules[10]')).toEqual([]);
    expect(errorsAt(errors, 'defaultServe')).toEqual(['weights must sum to 100000']);
  });
});

describe('dogfood segment helpers', () => {
  it('normalises email domains', () => {
    expect(normaliseDomain('Example.COM')).toEqual({ domain: '@example.com' });
    expect(normaliseDomain('@corp.example.co.uk')).toEqual({ domain: '@corp.example.co.uk' });
    expect(normaliseDomain('not a domain')).toHaveProperty('error');
  });
  it('reads and writes the email rule without touching other rules', () => {
    const other = { id: 'beta', clauses: [{ attribute: 'plan', operator: 'in' as const, values: ['beta'] }] };
    const rules = withEmailDomains([other], ['@example.com']);
    expect(rules).toEqual([other, { id: 'email-domains', clauses: [{ attribute: 'email', operator: 'ends_with', values: ['@example.com'] }] }]);
    expect(emailDomains(rules)).toEqual(['@example.com']);
    expect(withEmailDomains(rules, [])).toEqual([other]);
  });
  it('parses ID lists', () => expect(parseIdList(' a, b\nc  a ')).toEqual(['a', 'b', 'c']));
});

describe('flag key validation', () => {
  const cases = [
    { name: 'valid', key: 'new-checkout.v2_x', problem: undefined },
    { name: 'empty', key: '', problem: 'required' },
    { name: 'uppercase', key: 'NewFlag', problem: 'lowercase' },
    { name: 'space', key: 'new flag', problem: 'No spaces' },
    { name: 'trailing dash', key: 'new-', problem: 'starting and ending' },
    { name: 'taken', key: 'taken', problem: 'already exists' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const problem = keyProblem(c.key, new Set(['taken']));
      if (c.problem === undefined) expect(problem).toBeUndefined();
      else expect(problem).toContain(c.problem);
    });
  }
  it('suggests keys from names', () => expect(keyFromName('New Checkout Flow!')).toBe('new-checkout-flow'));
});

describe('audit diff', () => {
  it('lists leaf changes and ignores bookkeeping', () => {
    const before = { version: 1, description: 'a', environments: { production: { on: false }, staging: { on: false } } };
    const after = { version: 2, description: 'b', environments: { production: { on: true }, staging: { on: true } } };
    expect(diffSnapshots(before, after, 'production')).toEqual([
      { path: 'description', before: '"a"', after: '"b"' },
      { path: 'environments.production.on', before: 'false', after: 'true' },
    ]);
    expect(diffSnapshots(null, { key: 'x' })).toEqual([{ path: 'key', after: '"x"' }]);
  });
});
