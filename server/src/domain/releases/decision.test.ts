import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { valueBucket } from '@switchyard/sdk/metrics';
import { DEFAULT_GUARD, assessErrorRate, assessLatency, logMixtureLikelihoodRatio, quantile } from './decision.js';
import { latencyBucket } from './latency.js';

describe('assessErrorRate', () => {
  const cases = [
    { name: 'too few control exposures', control: { exposures: 100, errors: 1 }, treatment: { exposures: 5000, errors: 500 }, expected: 'insufficient_data' },
    { name: 'too few treatment exposures', control: { exposures: 100_000, errors: 1000 }, treatment: { exposures: 50, errors: 40 }, expected: 'insufficient_data' },
    { name: 'equal rates', control: { exposures: 100_000, errors: 1000 }, treatment: { exposures: 10_000, errors: 100 }, expected: 'healthy' },
    { name: 'treatment better', control: { exposures: 100_000, errors: 1000 }, treatment: { exposures: 10_000, errors: 20 }, expected: 'healthy' },
    { name: 'no errors anywhere', control: { exposures: 10_000, errors: 0 }, treatment: { exposures: 10_000, errors: 0 }, expected: 'healthy' },
    { name: '5× the errors', control: { exposures: 100_000, errors: 1000 }, treatment: { exposures: 2000, errors: 100 }, expected: 'regression' },
    { name: '2× the errors with plenty of data', control: { exposures: 100_000, errors: 1000 }, treatment: { exposures: 20_000, errors: 400 }, expected: 'regression' },
    { name: 'errors only in the treatment', control: { exposures: 10_000, errors: 0 }, treatment: { exposures: 1000, errors: 30 }, expected: 'regression' },
    { name: 'a small increase inside the tolerated margin', control: { exposures: 1_000_000, errors: 10_000 }, treatment: { exposures: 1_000_000, errors: 10_500 }, expected: 'healthy' },
  ] as const;

  for (const c of cases) {
    it(c.name, () => {
      expect(assessErrorRate(c.control, c.treatment).verdict).toBe(c.expected);
    });
  }

  it('reports the evidence an audit entry needs', () => {
    const e = assessErrorRate({ exposures: 100_000, errors: 1000 }, { exposures: 2000, errors: 100 });
    expect(e.control.rate).toBeCloseTo(0.01);
    expect(e.treatment.rate).toBeCloseTo(0.05);
    expect(e.relativeChange).toBeCloseTo(5);
    expect(e.difference).toBeCloseTo(0.05 - 1.1 * 0.01);
    expect(e.boundary).toBeCloseTo(Math.log(20));
    expect(e.logLikelihoodRatio).toBeGreaterThan(e.boundary);
    expect(e.pValue).toBeLessThan(DEFAULT_GUARD.alpha);
  });

  it('a stricter alpha needs more evidence', () => {
    const control = { exposures: 50_000, errors: 500 };
    const treatment = { exposures: 3000, errors: 65 };
    expect(assessErrorRate(control, treatment, { ...DEFAULT_GUARD, alpha: 0.05 }).verdict).toBe('regression');
    expect(assessErrorRate(control, treatment, { ...DEFAULT_GUARD, alpha: 0.0001 }).verdict).toBe('healthy');
  });

  it('a larger tolerated increase needs a larger effect', () => {
    const control = { exposures: 100_000, errors: 1000 };
    const treatment = { exposures: 20_000, errors: 400 };
    expect(assessErrorRate(control, treatment, { ...DEFAULT_GUARD, minRelativeIncrease: 2 }).verdict).toBe('healthy');
  });

  it('rejects impossible counts', () => {
    expect(() => assessErrorRate({ exposures: -1, errors: 0 }, { exposures: 10, errors: 0 })).toThrow(RangeError);
    expect(() => assessErrorRate({ exposures: 10, errors: 0 }, { exposures: Number.NaN, errors: 0 })).toThrow(RangeError);
  });

  it('never rolls back when the treatment is not worse (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 0, max: 1_000_000 }), fc.double({ min: 0, max: 0.5, noNaN: true }), (nc, nt, p) => {
        const control = { exposures: nc, errors: Math.round(nc * p) };
        const treatment = { exposures: nt, errors: Math.floor(nt * p * 0.99) };
        expect(assessErrorRate(control, treatment).verdict).not.toBe('regression');
      }),
    );
  });

  it('the statistic grows with the evidence (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1000, max: 100_000 }), (n) => {
        const small = assessErrorRate({ exposures: n * 10, errors: n / 10 }, { exposures: n, errors: n / 20 });
        const large = assessErrorRate({ exposures: n * 20, errors: n / 5 }, { exposures: n * 2, errors: n / 10 });
        expect(large.logLikelihoodRatio).toBeGreaterThanOrEqual(small.logLikelihoodRatio);
      }),
    );
  });
});

describe('logMixtureLikelihoodRatio', () => {
  it('is 0 for degenerate inputs and below 0 for no difference', () => {
    expect(logMixtureLikelihoodRatio(0.1, 0, 1)).toBe(0);
    expect(logMixtureLikelihoodRatio(0, 1e-4, 1e-4)).toBeCloseTo(0.5 * Math.log(0.5));
  });

  it('keeps the false-rollback rate below alpha across many looks (simulation)', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let falseRollbacks = 0;
    const runs = 200;
    for (let run = 0; run < runs; run++) {
      const c = { exposures: 0, errors: 0 };
      const t = { exposures: 0, errors: 0 };
      for (let look = 0; look < 50; look++) {
        for (let i = 0; i < 500; i++) {
          const arm = random() < 0.2 ? t : c;
          arm.exposures++;
          if (random() < 0.02) arm.errors++;
        }
        if (assessErrorRate(c, t, { ...DEFAULT_GUARD, minRelativeIncrease: 0 }).verdict === 'regression') {
          falseRollbacks++;
          break;
        }
      }
    }
    expect(falseRollbacks / runs).toBeLessThanOrEqual(0.05);
  });
});

describe('latency', () => {
  const upper = (b: number) => 2 ** (b / 4);
  it('the SDK fills the buckets the server reads', () => {
    for (const ms of [0, 0.5, 1, 1.01, 2, 3, 99.9, 100, 183, 1024, 60_000]) expect(valueBucket(ms)).toBe(latencyBucket(ms));
  });

  it('quantile walks the cumulative histogram', () => {
    expect(quantile({}, 0.95, upper)).toBeNull();
    expect(quantile({ 4: 95, 40: 5 }, 0.95, upper)).toBe(2);
    expect(quantile({ 4: 94, 40: 6 }, 0.95, upper)).toBe(1024);
  });

  it('flags a p95 above the tolerated increase once both arms have samples', () => {
    const guard = { maxRelativeIncrease: 0.2, minSamples: 100 };
    expect(assessLatency({ samples: 10, p95: 100 }, { samples: 1000, p95: 500 }, guard).verdict).toBe('insufficient_data');
    expect(assessLatency({ samples: 1000, p95: 100 }, { samples: 1000, p95: 110 }, guard).verdict).toBe('healthy');
    expect(assessLatency({ samples: 1000, p95: 100 }, { samples: 1000, p95: 130 }, guard).verdict).toBe('regression');
  });
});
