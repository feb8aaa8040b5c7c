import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import murmurhash from 'murmurhash';
import { describe, expect, it } from 'vitest';
import { BUCKETS, bucket, murmur3, percentageToBuckets } from './bucket.js';

interface Vector {
  salt: string;
  unitId: string;
  hash: number;
  bucket: number;
}

const { vectors } = JSON.parse(
  readFileSync(new URL('../../test/fixtures/bucketing-vectors.json', import.meta.url), 'utf8'),
) as { vectors: Vector[] };

describe('bucket', () => {
  it('has the shared vectors', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(90);
  });

  it.each(vectors.map((v) => ({ ...v, name: `${v.salt}:${v.unitId.slice(0, 20)}` })))('reproduces $name', (v) => {
    expect(murmur3(`${v.salt}:${v.unitId}`)).toBe(v.hash);
    expect(bucket(v.salt, v.unitId)).toBe(v.bucket);
  });

  it('agrees with the murmurhash package on random unicode strings (including lone surrogates)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), fc.string({ unit: 'grapheme', maxLength: 16 }), (a, b) => {
        const text = a + b;
        expect(murmur3(text)).toBe(murmurhash.v3(text, 0));
      }),
      { numRuns: 100_000 },
    );
  });

  it('agrees with the package on strings of UTF-16 code units, paired or not', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.integer({ min: 0xd7f0, max: 0xe010 }).map((c) => String.fromCharCode(c)), maxLength: 12 }), (text) => {
        expect(murmur3(text)).toBe(murmurhash.v3(text, 0));
      }),
      { numRuns: 5_000 },
    );
  });

  it('stays in range', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (salt, id) => {
        const b = bucket(salt, id);
        expect(Number.isInteger(b) && b >= 0 && b < BUCKETS).toBe(true);
      }),
    );
  });

  it('spreads users uniformly: 100k IDs at 10% give 10% ± 0.5%', () => {
    const limit = percentageToBuckets(10);
    let inside = 0;
    for (let i = 0; i < 100_000; i++) if (bucket('uniformity', `user-${i}`) < limit) inside++;
    expect(Math.abs(inside / 100_000 - 0.1)).toBeLessThan(0.005);
  });

  it.each([
    { name: '0%', percentage: 0, buckets: 0 },
    { name: '0.001%', percentage: 0.001, buckets: 1 },
    { name: '10%', percentage: 10, buckets: 10_000 },
    { name: '33.333%', percentage: 33.333, buckets: 33_333 },
    { name: '100%', percentage: 100, buckets: 100_000 },
  ])('converts $name to buckets', ({ percentage, buckets }) => {
    expect(percentageToBuckets(percentage)).toBe(buckets);
  });
});
