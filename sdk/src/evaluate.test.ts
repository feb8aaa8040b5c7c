import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucket, percentageToBuckets } from './bucket.js';
import { MAX_PREREQUISITE_DEPTH, compileFlag, evaluate, evaluateCompiled } from './evaluate.js';
import { compileRuleSet } from './ruleset.js';
import type { EvaluationContext, EvaluationResult, FlagConfig, Segment } from './types.js';

interface Case {
  name: string;
  flag: FlagConfig | null;
  segments?: Record<string, Segment>;
  /** The rule set's other flags (what prerequisites refer to). */
  flags?: Record<string, FlagConfig>;
  context: EvaluationContext;
  expected: EvaluationResult & { ruleId?: string };
}

const { cases } = JSON.parse(
  readFileSync(new URL('../../test/fixtures/evaluation-cases.json', import.meta.url), 'utf8'),
) as { cases: Case[] };

function percentFlag(percentage: number): FlagConfig {
  return {
    key: 'ramp',
    type: 'boolean',
    variations: [
      { key: 'off', value: false },
      { key: 'on', value: true },
    ],
    on: true,
    offVariation: 'off',
    targets: [],
    rules: [],
    defaultServe: {
      rollout: {
        variations: [
          { variation: 'on', weight: percentageToBuckets(percentage) },
          { variation: 'off', weight: 100_000 - percentageToBuckets(percentage) },
        ],
      },
    },
    salt: 'ramp',
    bucketBy: 'userId',
    version: 1,
  };
}

describe('evaluate: shared evaluation cases', () => {
  it('has cases', () => expect(cases.length).toBeGreaterThan(40));

  it.each(cases)('$name', ({ flag, segments, flags, context, expected }) => {
    const result = evaluate(flag ?? undefined, context, segments ?? {}, flags ?? {});
    const { errorMessage: _message, ...comparable } = result;
    expect(comparable).toEqual(expected);
  });

  it.each(cases)('$name (compiled rule set)', ({ flag, segments, flags, context, expected }) => {
    const compiled = compileRuleSet({ flags: flag ? { ...flags, [flag.key]: flag } : {}, segments: segments ?? {} });
    const result = evaluateCompiled(flag ? compiled.get(flag.key) : undefined, context);
    const { errorMessage: _message, ...comparable } = result;
    expect(comparable).toEqual(expected);
  });
});

const boolFlag = (key: string, extra: Partial<FlagConfig> = {}): FlagConfig => ({
  ...percentFlag(100),
  key,
  salt: key,
  ...extra,
});

describe('evaluate: prerequisites', () => {
  it('has shared cases for them', () => expect(cases.filter((c) => c.flags !== undefined).length).toBeGreaterThanOrEqual(10));

  it('a cycle (which the server refuses) ends at the depth guard instead of overflowing the stack', () => {
    const a = boolFlag('a', { prerequisites: [{ flag: 'b', variation: 'on' }] });
    const b = boolFlag('b', { prerequisites: [{ flag: 'a', variation: 'on' }] });
    const self = boolFlag('self', { prerequisites: [{ flag: 'self', variation: 'on' }] });
    const flags = { a, b, self };
    for (const flag of [a, b, self]) {
      const result = evaluate(flag, { userId: 'u' }, {}, flags);
      expect(result.reason).toBe('PREREQUISITE_FAILED');
      expect(result.value).toBe(false);
      const compiled = compileRuleSet({ flags, segments: {} });
      expect(evaluateCompiled(compiled.get(flag.key), { userId: 'u' })).toEqual(result);
    }
  });

  it(`a chain of ${MAX_PREREQUISITE_DEPTH} is evaluated to its end; one more is not met`, () => {
    const chain = (length: number) => {
      const flags: Record<string, FlagConfig> = {};
      for (let i = 0; i <= length; i++) flags[`f${i}`] = boolFlag(`f${i}`, i < length ? { prerequisites: [{ flag: `f${i + 1}`, variation: 'on' }] } : {});
      return flags;
    };
    const ok = chain(MAX_PREREQUISITE_DEPTH);
    expect(evaluate(ok.f0, { userId: 'u' }, {}, ok)).toMatchObject({ value: true, reason: 'STATIC' });
    const long = chain(MAX_PREREQUISITE_DEPTH + 1);
    expect(evaluate(long.f0, { userId: 'u' }, {}, long)).toMatchObject({ value: false, reason: 'PREREQUISITE_FAILED' });
  });

  it('the compiled rule set looks prerequisites up when evaluating: a flag replaced later is seen', () => {
    const flags = { gate: boolFlag('gate', { prerequisites: [{ flag: 'dep', variation: 'on' }] }), dep: boolFlag('dep') };
    const compiled = compileRuleSet({ flags, segments: {} });
    expect(evaluateCompiled(compiled.get('gate'), { userId: 'u' }).value).toBe(true);
    compiled.set('dep', compileFlag({ ...flags.dep, on: false }, new Map(), compiled));
    expect(evaluateCompiled(compiled.get('gate'), { userId: 'u' })).toMatchObject({ value: false, reason: 'PREREQUISITE_FAILED', prerequisiteKey: 'dep' });
  });

  it('without the other flags, a prerequisite is not met', () => {
    expect(evaluate(boolFlag('gate', { prerequisites: [{ flag: 'dep', variation: 'on' }] }), { userId: 'u' })).toMatchObject({ reason: 'PREREQUISITE_FAILED', prerequisiteKey: 'dep' });
  });
});

describe('evaluate: properties', () => {
  const percentage = fc.integer({ min: 0, max: 100_000 }).map((n) => n / 1000);
  // "" is no unit ID (the fixture pins that case).
  const unitIds = fc.string({ minLength: 1 });

  it('ramp-ups are monotonic: everyone inside a smaller rollout stays inside a larger one', () => {
    fc.assert(
      fc.property(percentage, percentage, unitIds, (a, b, userId) => {
        const [small, large] = a <= b ? [a, b] : [b, a];
        const inSmall = evaluate(percentFlag(small), { userId }).value === true;
        const inLarge = evaluate(percentFlag(large), { userId }).value === true;
        expect(!inSmall || inLarge).toBe(true);
      }),
      { numRuns: 5_000 },
    );
  });

  it('a p% rollout serves exactly the users whose bucket is below p*1000', () => {
    fc.assert(
      fc.property(percentage, unitIds, (p, userId) => {
        const inside = evaluate(percentFlag(p), { userId }).value === true;
        expect(inside).toBe(bucket('ramp', userId) < percentageToBuckets(p));
      }),
      { numRuns: 5_000 },
    );
  });

  it('never throws, whatever the context', () => {
    const flag = cases.find((c) => c.name.startsWith('dogfood segment by email'))!;
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (context) => {
        expect(() => evaluate(flag.flag!, context as never, flag.segments)).not.toThrow();
      }),
    );
  });

  it('reports a malformed flag instead of throwing', () => {
    const broken = { ...percentFlag(10), defaultServe: { variation: 'missing' } };
    expect(evaluate(broken, { userId: 'u' })).toMatchObject({ reason: 'ERROR', errorCode: 'PARSE_ERROR' });
  });

  it('freezes results so callers cannot corrupt shared state', () => {
    const json = cases.find((c) => c.name === 'json variation value')!;
    const result = evaluate(json.flag!, json.context);
    expect(Object.isFrozen(result)).toBe(true);
    expect(Object.isFrozen(result.value)).toBe(true);
  });
});
