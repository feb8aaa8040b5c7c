import { describe, expect, it } from 'vitest';
import type { Segment } from '../api/types.js';
import { describeClause, emptySegmentDraft, fromSegmentDraft, newSegmentRuleId, segmentFieldErrors, SEGMENT_RULE_OPERATORS, toSegmentDraft } from './segment-form.js';

const segment: Segment = {
  key: 'beta',
  name: 'Beta testers',
  description: 'Early access',
  unitAttribute: 'userId',
  included: ['u1', 'u2'],
  excluded: ['u3'],
  rules: [
    { id: 'email-domains', clauses: [{ attribute: 'email', operator: 'ends_with', values: ['@corp.example', '@beta.example'] }] },
    { id: 'big', clauses: [{ attribute: 'seats', operator: 'gte', values: [100] }, { attribute: 'plan', operator: 'in', values: ['pro', 'team'] }] },
  ],
  version: 3,
  updatedAt: '2026-01-01T00:00:00.000Z',
  updatedBy: 'editor',
};

describe('segment form ↔ API', () => {
  it('shows members as lists, the email rule as domains and the other rules as rules', () => {
    const draft = toSegmentDraft(segment);
    expect(draft).toMatchObject({ included: 'u1, u2', excluded: 'u3', emailDomains: 'corp.example, beta.example' });
    expect(draft.rules).toEqual([{ id: 'big', clauses: [{ attribute: 'seats', operator: 'gte', values: '100' }, { attribute: 'plan', operator: 'in', values: 'pro, team' }] }]);
  });

  it('writes the email rule last, so the form\'s rules keep their API positions', () => {
    const result = fromSegmentDraft(toSegmentDraft(segment));
    if (!('body' in result)) throw new Error('expected a body');
    expect(result.body.rules.map((r) => r.id)).toEqual(['big', 'email-domains']);
    expect(result.body.rules[0]!.clauses[0]!.values).toEqual([100]);
    expect(result.body).toMatchObject({ key: 'beta', name: 'Beta testers', description: 'Early access', included: ['u1', 'u2'], excluded: ['u3'] });
    expect(result.body.rules[1]).toEqual(segment.rules[0]);
  });

  it('parses typed lists: ids de-duplicated, domains normalised, no email rule without domains', () => {
    const draft = { ...emptySegmentDraft(), key: ' gamma ', name: 'Gamma', included: 'a\nb, a  c', emailDomains: '@Example.com example.com' };
    const result = fromSegmentDraft(draft);
    if (!('body' in result)) throw new Error('expected a body');
    expect(result.body.included).toEqual(['a', 'b', 'c']);
    expect(result.body.key).toBe('gamma');
    expect(result.body.rules).toEqual([{ id: 'email-domains', clauses: [{ attribute: 'email', operator: 'ends_with', values: ['@example.com'] }] }]);
    const none = fromSegmentDraft({ ...draft, emailDomains: '' });
    expect('body' in none && none.body.rules).toEqual([]);
  });

  it('refuses a domain it cannot read, naming the field', () => {
    expect(fromSegmentDraft({ ...emptySegmentDraft(), emailDomains: 'example.com, not a domain!' })).toEqual({ error: { path: 'emailDomains', message: expect.stringMatching(/"not" is not an email domain/) } });
  });

  it('keeps a non-numeric value for numeric operators so the server names the field', () => {
    const draft = toSegmentDraft(segment);
    draft.rules[0]!.clauses[0]!.values = 'lots';
    const result = fromSegmentDraft(draft);
    expect('body' in result && result.body.rules[0]!.clauses[0]!.values).toEqual(['lots']);
  });

  it('keeps a hand-made rule called email-domains that is not a domain list as a rule', () => {
    const odd = { ...segment, rules: [{ id: 'email-domains', clauses: [{ attribute: 'email', operator: 'contains' as const, values: ['corp'] }] }] };
    const draft = toSegmentDraft(odd);
    expect(draft.emailDomains).toBe('');
    expect(draft.rules.map((r) => r.id)).toEqual(['email-domains']);
  });

  it('puts server errors on form fields; errors in the email rule go to the domains field', () => {
    const errors = segmentFieldErrors(
      [
        { path: 'body.rules[0].clauses[0].values[0]', message: 'compares numbers' },
        { path: 'body.rules[1].clauses[0].values[0]', message: 'too long' },
        { path: 'body.name', message: 'required' },
      ],
      1,
    );
    expect([...errors]).toEqual([
      ['rules[0].clauses[0].values[0]', ['compares numbers']],
      ['emailDomains', ['too long']],
      ['name', ['required']],
    ]);
  });

  it('offers no segment operators in segment rules, picks fresh rule ids and reads clauses aloud', () => {
    expect(SEGMENT_RULE_OPERATORS).not.toContain('in_segment');
    expect(SEGMENT_RULE_OPERATORS).toContain('ends_with');
    expect(newSegmentRuleId([{ id: 'rule-2' }, { id: 'x' }])).toBe('rule-3');
    expect(describeClause({ attribute: 'email', operator: 'ends_with', values: ['@a.example', '@b.example'] })).toBe('email ends with @a.example, @b.example');
    expect(describeClause({ attribute: '', operator: 'not_in_segment', values: ['beta'] })).toBe('not in segment beta');
  });
});
