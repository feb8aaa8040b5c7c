/**
 * Latency histogram buckets shared with the SDK's `track(name, user, value)`: bucket
 * b = ceil(4 · log2(value)) covers (2^((b−1)/4), 2^(b/4)] ms — quarter-octaves, about 19% wide, so
 * a p95 read from it is within 19% of the true value. Values ≤ 1 ms share bucket 0.
 */
export const LATENCY_BUCKETS_PER_OCTAVE = 4;

export function latencyBucket(value: number): number {
  return value <= 1 ? 0 : Math.ceil(LATENCY_BUCKETS_PER_OCTAVE * Math.log2(value));
}

export function latencyUpperBound(bucket: number): number {
  return 2 ** (bucket / LATENCY_BUCKETS_PER_OCTAVE);
}
