import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF, resumeDelay } from './backoff.js';

describe('backoffDelay', () => {
  const cases = [
    { name: 'first retry, top of the window', attempt: 0, random: 0.999, expected: 999 },
    { name: 'doubles per attempt', attempt: 1, random: 0.5, expected: 1000 },
    { name: 'attempt 4 ceiling is 16 s', attempt: 4, random: 1, expected: 16_000 },
    { name: 'capped at 30 s', attempt: 5, random: 1, expected: 30_000 },
    { name: 'still capped far out', attempt: 1_000, random: 1, expected: 30_000 },
    { name: 'full jitter reaches zero', attempt: 10, random: 0, expected: 0 },
    { name: 'negative attempt counts as 0', attempt: -3, random: 1, expected: 1_000 },
    { name: 'NaN random gives no delay', attempt: 2, random: Number.NaN, expected: 0 },
  ];

  it.each(cases)('$name', ({ attempt, random, expected }) => {
    expect(backoffDelay(attempt, () => random, DEFAULT_BACKOFF)).toBeCloseTo(expected, 6);
  });

  it('is random() * min(max, base * 2^attempt) for custom bounds', () => {
    const schedule = [0, 1, 2, 3, 4, 5].map((attempt) => backoffDelay(attempt, () => 0.5, { baseMs: 100, maxMs: 1_000 }));
    expect(schedule).toEqual([50, 100, 200, 400, 500, 500]);
  });
});

describe('resumeDelay', () => {
  const cases = [
    { name: 'never 0, even for random 0', random: 0, expected: 500 },
    { name: 'middle of the window', random: 0.5, expected: 750 },
    { name: 'top of the window', random: 0.999, expected: 999.5 },
    { name: 'NaN random gives the shortest delay, not none', random: Number.NaN, expected: 500 },
    { name: 'random above 1 is clamped', random: 7, expected: 1_000 },
  ];

  it.each(cases)('$name', ({ random, expected }) => {
    expect(resumeDelay(() => random)).toBeCloseTo(expected, 6);
  });

  it('scales with its base', () => {
    expect(resumeDelay(() => 0.5, 200)).toBe(150);
  });
});
