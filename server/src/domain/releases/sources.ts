import type { MetricTotals, SourceCount } from './metrics.js';

/**
 * Who may move the guard. SDK keys are public (they ship in browsers), so anyone can upload counts;
 * a forged upload must not be able to roll a healthy release back or hide a regression. Besides the
 * per-upload cap and the per-key rate limit, no one key's counts may outweigh the other keys'
 * together: for each variation and metric (exposures, errors…) a key's count enters the decision up
 * to `MAX_SOURCE_SHARE` of the total, i.e. at most `share / (1 − share)` times what every other key
 * reported. The excess is ignored for the decision but kept, and shown in the evidence.
 *
 * Capping each metric (not a key's exposures and errors by one factor) is what stops the reported
 * forgery: a key claiming 50% errors over 100,000 exposures adds at most as many errors as the
 * honest keys saw, so their rate still decides. Honest keys serving one population report about
 * the same rate, so capping both counts by about the same factor leaves their rates unbiased.
 * A key that is the only one reporting for a variation and metric is not capped (there is nothing
 * to weigh it against): one application, one key, is the common case — and then a forger holding
 * that key is limited by the upload cap and rate limit alone, which the README says.
 */
export const MAX_SOURCE_SHARE = 0.5;

export interface SourceContribution extends SourceCount {
  /** What the decision used: `count`, or less when this key's share was capped. */
  counted: number;
}

const groupKey = (c: { variation: string; metric: string }) => `${c.metric}\u0000${c.variation}`;

/** Cap every key's share of each (variation, metric) count; keys with nothing to report are left out. */
export function capSourceShares(counts: readonly SourceCount[], maxShare: number = MAX_SOURCE_SHARE): SourceContribution[] {
  if (!(maxShare > 0 && maxShare < 1)) throw new RangeError('maxShare must be between 0 and 1');
  const ratio = maxShare / (1 - maxShare);
  const groups = new Map<string, SourceCount[]>();
  for (const c of counts) {
    if (c.count <= 0) continue;
    const group = groups.get(groupKey(c));
    if (group) group.push(c);
    else groups.set(groupKey(c), [c]);
  }
  const result: SourceContribution[] = [];
  for (const group of groups.values()) {
    const total = group.reduce((sum, c) => sum + c.count, 0);
    for (const c of group) {
      const counted = group.length === 1 ? c.count : Math.min(c.count, Math.floor(ratio * (total - c.count)));
      result.push({ ...c, counted });
    }
  }
  return result.sort((a, b) => a.keyId - b.keyId || cmp(a.variation, b.variation) || cmp(a.metric, b.metric));
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The totals the decision uses: each (variation, metric) count less what capped keys reported over
 * their share. (Counts recorded before sources were kept have no source rows and stay as they are.)
 */
export function cappedTotals(totals: readonly MetricTotals[], contributions: readonly SourceContribution[]): MetricTotals[] {
  const excess = new Map<string, number>();
  for (const c of contributions) if (c.counted < c.count) excess.set(groupKey(c), (excess.get(groupKey(c)) ?? 0) + c.count - c.counted);
  return totals.map((t) => {
    const over = excess.get(groupKey(t));
    return over === undefined ? t : { ...t, count: Math.max(0, t.count - over) };
  });
}

/** The evidence's list of contributing keys: per key, what it reported and what was counted. */
export interface KeyContribution {
  keyId: number;
  keyName: string;
  counts: { variation: string; metric: string; count: number; counted: number }[];
}

export function byKey(contributions: readonly SourceContribution[]): KeyContribution[] {
  const keys = new Map<number, KeyContribution>();
  for (const { keyId, keyName, variation, metric, count, counted } of contributions) {
    const key = keys.get(keyId) ?? { keyId, keyName, counts: [] };
    key.counts.push({ variation, metric, count, counted });
    keys.set(keyId, key);
  }
  return [...keys.values()];
}
