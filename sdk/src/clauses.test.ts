import { describe, expect, it } from 'vitest';
import { MAX_MATCHED_LENGTH, compileClause, unitId } from './clauses.js';
import { evaluate } from './evaluate.js';
import { RuleStore } from './store.js';
import { booleanFlag, ruleSet, segment } from './testing/fakes.js';
import type { Clause, EvaluationContext } from './types.js';

/**
 * Attribute names are user data: `constructor`, `toString` or `__proto__` name an attribute like any
 * other, read from the context's own properties, never from Object.prototype. A missing attribute
 * never matches (not even `not_in`), and a value that is not a string, number, boolean or array of
 * them never matches either.
 */

interface ClauseCase {
  name: string;
  clause: Clause;
  context: EvaluationContext;
  expected: boolean;
}

/** A context as OFREP and JSON-fed applications get it: `JSON.parse` makes `__proto__` an own, plain attribute. */
const parsed = (json: string) => JSON.parse(json) as EvaluationContext;

const CASES: ClauseCase[] = [
  { name: 'constructor not_in ["x"] without the attribute', clause: { attribute: 'constructor', operator: 'not_in', values: ['x'] }, context: { userId: 'u' }, expected: false },
  { name: 'toString not_in ["x"] without the attribute', clause: { attribute: 'toString', operator: 'not_in', values: ['x'] }, context: {}, expected: false },
  { name: 'hasOwnProperty not_in ["x"] without the attribute', clause: { attribute: 'hasOwnProperty', operator: 'not_in', values: ['x'] }, context: {}, expected: false },
  { name: '__proto__ not_in ["x"] without the attribute', clause: { attribute: '__proto__', operator: 'not_in', values: ['x'] }, context: {}, expected: false },
  { name: '__proto__ in ["x"] without the attribute', clause: { attribute: '__proto__', operator: 'in', values: ['x'] }, context: {}, expected: false },
  { name: 'valueOf matches ".*" without the attribute', clause: { attribute: 'valueOf', operator: 'matches', values: ['^f'] }, context: {}, expected: false },
  { name: 'constructor contains "Object" without the attribute', clause: { attribute: 'constructor', operator: 'contains', values: ['Object'] }, context: {}, expected: false },
  { name: 'constructor in ["x"] with the attribute', clause: { attribute: 'constructor', operator: 'in', values: ['x'] }, context: { constructor: 'x' } as EvaluationContext, expected: true },
  { name: 'constructor not_in ["x"] with another value', clause: { attribute: 'constructor', operator: 'not_in', values: ['x'] }, context: { constructor: 'y' } as EvaluationContext, expected: true },
  { name: '__proto__ in ["x"] from parsed JSON (a plain attribute)', clause: { attribute: '__proto__', operator: 'in', values: ['x'] }, context: parsed('{"__proto__":"x"}'), expected: true },
  { name: '__proto__ not_in ["x"] from parsed JSON', clause: { attribute: '__proto__', operator: 'not_in', values: ['x'] }, context: parsed('{"__proto__":"y"}'), expected: true },
  { name: 'an object value never matches in', clause: { attribute: 'plan', operator: 'in', values: ['pro'] }, context: parsed('{"plan":{"0":"pro"}}'), expected: false },
  { name: 'an object value never matches not_in', clause: { attribute: 'plan', operator: 'not_in', values: ['pro'] }, context: parsed('{"plan":{"some":1}}'), expected: false },
  { name: 'an object value never matches matches', clause: { attribute: 'plan', operator: 'matches', values: ['.'] }, context: parsed('{"plan":{}}'), expected: false },
  { name: 'a function value never matches not_in', clause: { attribute: 'plan', operator: 'not_in', values: ['pro'] }, context: { plan: (() => 'pro') as never }, expected: false },
  { name: 'an array still matches on any element', clause: { attribute: 'groups', operator: 'in', values: ['beta'] }, context: { groups: ['alpha', 'beta'] }, expected: true },
  { name: 'objects inside an array are skipped', clause: { attribute: 'groups', operator: 'in', values: ['beta'] }, context: parsed('{"groups":[{"a":1},"beta"]}'), expected: true },
  { name: `matches looks at strings up to ${MAX_MATCHED_LENGTH} characters`, clause: { attribute: 'email', operator: 'matches', values: ['a$'] }, context: { email: 'a'.repeat(MAX_MATCHED_LENGTH) }, expected: true },
  { name: `matches ignores strings over ${MAX_MATCHED_LENGTH} characters`, clause: { attribute: 'email', operator: 'matches', values: ['a$'] }, context: { email: 'a'.repeat(MAX_MATCHED_LENGTH + 1) }, expected: false },
];

describe('compileClause: own attributes only', () => {
  it.each(CASES)('$name', ({ clause, context, expected }) => {
    expect(compileClause(clause, new Map())(context)).toBe(expected);
  });

  it('caps the input of matches at 1,024 characters (was 4,096): bounds the work of a pattern stored before the server checked them', () => {
    const clause = compileClause({ attribute: 'email', operator: 'matches', values: ['^a+$'] }, new Map());
    expect(clause({ email: 'a'.repeat(1024) })).toBe(true);
    expect(clause({ email: 'a'.repeat(1025) })).toBe(false);
  });
});

describe('unitId: own attributes only', () => {
  it.each(['constructor', 'toString', '__proto__'])('%s is absent unless the context has it', (attribute) => {
    expect(unitId({ userId: 'u' }, attribute)).toBeUndefined();
    expect(unitId(parsed(`{"${attribute}":"id-1"}`), attribute)).toBe('id-1');
  });
});

describe('evaluate with prototype names', () => {
  it('a rule on __proto__ evaluates (no "attribute.some is not a function") and matches only a context that has it', () => {
    const flag = booleanFlag('f', true, 1, {
      defaultServe: { variation: 'off' },
      rules: [{ id: 'proto', clauses: [{ attribute: '__proto__', operator: 'in', values: ['x'] }], serve: { variation: 'on' } }],
    });
    expect(evaluate(flag, { userId: 'u' })).toMatchObject({ value: false, reason: 'STATIC' });
    expect(evaluate(flag, parsed('{"userId":"u","__proto__":"x"}'))).toMatchObject({ value: true, reason: 'TARGETING_MATCH' });
  });

  it('bucketing by constructor treats a context without it as having no ID', () => {
    const flag = booleanFlag('f', true, 1, { bucketBy: 'constructor', targets: [{ variation: 'on', values: ['function Object() { [native code] }'] }], defaultServe: { variation: 'off' } });
    expect(evaluate(flag, {})).toMatchObject({ value: false, reason: 'STATIC' });
  });
});

describe('RuleStore with prototype names', () => {
  it('a deleted flag or segment called constructor is gone, not Object.prototype.constructor', () => {
    const store = new RuleStore();
    store.applySnapshot(ruleSet(1, [booleanFlag('constructor', true)], [segment('constructor', ['u'])]), 'server');
    expect(store.applyPatch({ version: 2, flags: { constructor: null }, segments: { constructor: null } })).toEqual(['constructor']);
    expect(store.flags.has('constructor')).toBe(false);
  });
});
