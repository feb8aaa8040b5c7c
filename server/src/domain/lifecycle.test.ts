import { describe, expect, it } from 'vitest';
import { BOOLEAN_VARIATIONS, defaultFlagEnvironment } from './flag-defaults.js';
import type { Flag, FlagEnvironment } from './flags.js';
import { DAY_MS, DEFAULT_LIFECYCLE_THRESHOLDS, launchedFor, lifecycleOf, servingChangedAt, servingOf, type FlagHistoryEntry, type Lifecycle, type LifecycleInput } from './lifecycle.js';
import { applyStage, type ReleaseStage } from './stages.js';

/**
 * Lifecycle transitions with an injected clock: `now` is a day count after the flag's creation,
 * and every case names the transition it pins.
 */

const CREATED = Date.UTC(2026, 0, 1);
const day = (n: number) => CREATED + n * DAY_MS;
const fresh = (): FlagEnvironment => defaultFlagEnvironment('checkout', BOOLEAN_VARIATIONS, 'boolean');
const at = (stage: ReleaseStage, config: FlagEnvironment = fresh()): FlagEnvironment => applyStage(config, stage, 'on');

const flagWith = (environments: Record<string, FlagEnvironment>, archived = false): LifecycleInput['flag'] => ({ archived, createdAt: CREATED, environments });
const everywhere = (config: FlagEnvironment) => flagWith({ staging: config, production: config });

interface Case {
  name: string;
  input: Partial<LifecycleInput> & Pick<LifecycleInput, 'flag' | 'now'>;
  expected: Lifecycle;
}

const cases: Case[] = [
  { name: 'new: just created, never evaluated', input: { flag: everywhere(fresh()), now: day(1) }, expected: 'new' },
  { name: 'new → active: evaluated once', input: { flag: everywhere(fresh()), now: day(1), lastEvaluatedAt: { production: day(1) } }, expected: 'active' },
  { name: 'new → active: older than 7 days without an evaluation (evaluations not tracked)', input: { flag: everywhere(fresh()), now: day(7) }, expected: 'active' },
  { name: 'active: rolling out', input: { flag: everywhere(at('50%')), now: day(60), lastEvaluatedAt: { production: day(59) } }, expected: 'active' },
  {
    name: 'active: 100% in production, off in staging (not everywhere)',
    input: { flag: flagWith({ staging: fresh(), production: at('100%') }), now: day(60), servingSince: { production: day(10) }, lastEvaluatedAt: { production: day(59) } },
    expected: 'active',
  },
  {
    name: 'active: 100% everywhere, but only for 6 days',
    input: { flag: everywhere(at('100%')), now: day(20), servingSince: { staging: day(10), production: day(14) }, lastEvaluatedAt: { production: day(20) } },
    expected: 'active',
  },
  {
    name: 'active → launched: 100% everywhere for 7 days (the latest environment counts)',
    input: { flag: everywhere(at('100%')), now: day(21), servingSince: { staging: day(10), production: day(14) }, lastEvaluatedAt: { production: day(21) } },
    expected: 'launched',
  },
  {
    name: 'launched: a multivariate flag serving one variation through a 100% rollout',
    input: {
      flag: everywhere({ ...fresh(), on: true, defaultServe: { rollout: { variations: [{ variation: 'on', weight: 100_000 }, { variation: 'off', weight: 0 }] } } }),
      now: day(20),
      servingSince: { staging: day(1), production: day(1) },
      lastEvaluatedAt: { production: day(20) },
    },
    expected: 'launched',
  },
  {
    name: 'not launched: 100% with an individual target served the other variation',
    input: { flag: everywhere({ ...at('100%'), targets: [{ variation: 'off', values: ['qa'] }] }), now: day(20), servingSince: {}, lastEvaluatedAt: { production: day(20) } },
    expected: 'active',
  },
  {
    name: 'not launched: killed everywhere (serves the off variation, but is off)',
    input: { flag: everywhere(at('kill', at('100%'))), now: day(20), lastEvaluatedAt: { production: day(20) } },
    expected: 'active',
  },
  {
    name: 'launched → stale: launched long ago (100% everywhere for 30 days), still evaluated',
    input: { flag: everywhere(at('100%')), now: day(45), servingSince: { staging: day(15), production: day(15) }, lastEvaluatedAt: { production: day(45) } },
    expected: 'stale',
  },
  {
    name: 'active → stale: no evaluations anywhere for 30 days',
    input: { flag: everywhere(at('50%')), now: day(70), lastEvaluatedAt: { production: day(40), staging: day(35) } },
    expected: 'stale',
  },
  {
    name: 'active: evaluated 29 days ago',
    input: { flag: everywhere(at('50%')), now: day(69), lastEvaluatedAt: { production: day(40) } },
    expected: 'active',
  },
  { name: 'stale: never evaluated, created 30 days ago (evaluations tracked)', input: { flag: everywhere(at('50%')), now: day(30), lastEvaluatedAt: {} }, expected: 'stale' },
  { name: 'not stale without evaluation tracking: rolling out for months', input: { flag: everywhere(at('50%')), now: day(300) }, expected: 'active' },
  { name: 'stale: archived', input: { flag: flagWith({ production: at('50%') }, true), now: day(2) }, expected: 'stale' },
  {
    name: 'stale, not ready to remove: code still references it',
    input: { flag: everywhere(at('100%')), now: day(45), servingSince: {}, lastEvaluatedAt: { production: day(45) }, codeRefs: { references: 3 } },
    expected: 'stale',
  },
  {
    name: 'stale → ready to remove: the last reference is gone',
    input: { flag: everywhere(at('100%')), now: day(45), servingSince: {}, lastEvaluatedAt: { production: day(45) }, codeRefs: { references: 0 } },
    expected: 'ready-to-remove',
  },
  { name: 'ready to remove: archived, no references', input: { flag: flagWith({ production: fresh() }, true), now: day(2), codeRefs: { references: 0 } }, expected: 'ready-to-remove' },
  {
    name: 'stale, not ready to remove: no repository was ever scanned',
    input: { flag: flagWith({ production: fresh() }, true), now: day(2), codeRefs: undefined },
    expected: 'stale',
  },
  {
    name: 'no references is not enough: an active flag stays active',
    input: { flag: everywhere(at('50%')), now: day(40), lastEvaluatedAt: { production: day(40) }, codeRefs: { references: 0 } },
    expected: 'active',
  },
  {
    name: 'thresholds are configurable: launched after 1 day',
    input: { flag: everywhere(at('100%')), now: day(12), servingSince: { staging: day(10), production: day(10) }, lastEvaluatedAt: { production: day(12) }, thresholds: { newForDays: 1, launchedAfterDays: 1, staleAfterDays: 90 } },
    expected: 'launched',
  },
];

describe('lifecycleOf', () => {
  for (const { name, input, expected } of cases) {
    it(name, () => {
      const full: LifecycleInput = { servingSince: {}, lastEvaluatedAt: undefined, codeRefs: undefined, thresholds: DEFAULT_LIFECYCLE_THRESHOLDS, ...input };
      expect(lifecycleOf(full)).toBe(expected);
    });
  }

  it('a flag without environments is never launched', () => {
    expect(launchedFor({ flag: flagWith({}), servingSince: {}, now: day(100) })).toBeUndefined();
  });

  it('launched requires the same variation everywhere', () => {
    const blue = { ...fresh(), on: true, defaultServe: { variation: 'on' } };
    const red = { ...fresh(), on: true, defaultServe: { variation: 'off' } };
    expect(launchedFor({ flag: flagWith({ a: blue, b: blue }), servingSince: {}, now: day(10) })).toBe(10 * DAY_MS);
    expect(launchedFor({ flag: flagWith({ a: blue, b: red }), servingSince: {}, now: day(10) })).toBeUndefined();
  });
});

describe('servingOf', () => {
  it('reads off, single and mixed', () => {
    expect(servingOf(fresh())).toEqual({ kind: 'off', variation: 'off' });
    expect(servingOf(at('100%'))).toEqual({ kind: 'single', variation: 'on' });
    expect(servingOf(at('dogfood'))).toEqual({ kind: 'mixed' });
    expect(servingOf(at('10%'))).toEqual({ kind: 'mixed' });
  });
});

describe('servingChangedAt', () => {
  const flag = (production: FlagEnvironment, name = 'Checkout'): Pick<Flag, 'name' | 'environments'> => ({ name, environments: { production, staging: fresh() } });
  const entry = (at: number, environment: string | null, before: unknown, after: unknown): FlagHistoryEntry => ({ at, environment, before, after });

  it('finds the newest write that changed what the environment serves', () => {
    const history = [
      entry(day(9), null, flag(at('100%')), flag(at('100%'), 'Renamed')), // metadata only
      entry(day(8), 'staging', flag(at('100%')), flag(at('100%'))), // another environment
      entry(day(7), 'production', null, { evidence: 'release event' }), // not a flag write
      entry(day(6), 'production', flag(at('50%')), flag(at('100%'))), // ← this one
      entry(day(5), 'production', flag(at('10%')), flag(at('50%'))),
    ];
    expect(servingChangedAt(history, 'production')).toBe(day(6));
  });

  it('counts the creation, and says undefined when nothing in the history changed it', () => {
    expect(servingChangedAt([entry(day(3), null, null, flag(fresh()))], 'production')).toBe(day(3));
    expect(servingChangedAt([entry(day(3), null, flag(fresh()), flag(fresh(), 'x'))], 'production')).toBeUndefined();
  });

  it('a rule that serves the same variation as the 100% default changes nothing', () => {
    const withRule = { ...at('100%'), rules: [...at('100%').rules, { id: 'pro', clauses: [], serve: { variation: 'on' } }] };
    expect(servingChangedAt([entry(day(4), 'production', flag(at('100%')), flag(withRule))], 'production')).toBeUndefined();
  });
});
