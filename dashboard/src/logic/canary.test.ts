import { describe, expect, it } from 'vitest';
import { buildSeries, duration, polyline, splitText } from './canary.js';

describe('canary console logic', () => {
  it('says the split largest first', () => {
    expect(splitText([{ variation: 'v2', percentage: 10 }, { variation: 'v1', percentage: 90 }])).toBe('90% v1 / 10% v2');
  });

  it('builds per-variation series with error rates, zero-filling missing windows', () => {
    const series = buildSeries(
      [
        { windowStart: 0, variation: 'on', metric: '$exposure', count: 100 },
        { windowStart: 0, variation: 'on', metric: 'error', count: 5 },
        { windowStart: 0, variation: 'off', metric: '$exposure', count: 900 },
        { windowStart: 10, variation: 'off', metric: '$exposure', count: 1000 },
      ],
      'error',
    );
    expect(series.get('on')).toEqual([
      { at: 0, exposures: 100, errors: 5, rate: 0.05 },
      { at: 10, exposures: 0, errors: 0, rate: null },
    ]);
    expect(series.get('off')![1]).toEqual({ at: 10, exposures: 1000, errors: 0, rate: 0 });
  });

  it('says durations in seconds or minutes', () => {
    expect(duration(500)).toBe('0.5 s');
    expect(duration(90_000)).toBe('1.5 min');
    expect(duration(3_600_000)).toBe('60 min');
  });

  it('maps values into the box, skipping gaps', () => {
    expect(polyline([0, 5, null, 10], 10, 30, 100)).toBe('0.0,100.0 10.0,50.0 30.0,0.0');
    expect(polyline([], 1, 10, 10)).toBe('');
  });
});
