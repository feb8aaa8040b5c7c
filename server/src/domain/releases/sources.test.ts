import { describe, expect, it } from 'vitest';
import { capSourceShares, cappedTotals } from './sources.js';

const row = (keyId: number, count: number, variation = 'on', metric = '$exposure') => ({ keyId, keyName: `k${keyId}`, variation, metric, count });

describe('capSourceShares', () => {
  const cases = [
    { name: 'a lone key is not capped', rows: [row(1, 100_000)], counted: [100_000] },
    { name: 'a key may match, not outweigh, all others together', rows: [row(1, 1000), row(2, 100_000)], counted: [1000, 1000] },
    { name: 'balanced keys keep everything', rows: [row(1, 400), row(2, 300), row(3, 300)], counted: [400, 300, 300] },
    { name: 'variations and metrics are weighed separately', rows: [row(1, 10), row(2, 500), row(1, 3, 'off'), row(2, 5, 'on', 'error')], counted: [3, 10, 10, 5] },
    { name: 'zero counts are no contribution', rows: [row(1, 0), row(2, 50)], counted: [50] },
  ];
  for (const c of cases) it(c.name, () => expect(capSourceShares(c.rows).map((r) => r.counted)).toEqual(c.counted));

  it('takes off the totals only what capped keys reported over their share', () => {
    const contributions = capSourceShares([row(1, 1000), row(2, 100_000)]);
    const totals = [{ variation: 'on', metric: '$exposure', count: 101_500, sum: 0, histogram: {} }, { variation: 'off', metric: '$exposure', count: 7, sum: 0, histogram: {} }];
    expect(cappedTotals(totals, contributions).map((t) => t.count)).toEqual([2500, 7]);
  });
});
