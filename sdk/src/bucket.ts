/**
 * Deterministic bucketing — the contract every Switchyard implementation shares:
 *
 *   bucket(salt, unitId) = murmur3_x86_32(utf8(salt + ":" + unitId), seed = 0) % 100000
 *
 * The hash is computed straight from the UTF-16 string, encoding UTF-8 on the fly, so a call
 * allocates nothing (the `murmurhash` package's string path allocates a TextEncoder buffer per
 * call, which costs more than the hash itself). Lone surrogates become U+FFFD, exactly as
 * `TextEncoder` encodes them. The salt prefix is hashed once and its state reused (`saltState`).
 */

/** Buckets run 0..99999, so a rollout is expressed in units of 0.001%. */
export const BUCKETS = 100_000;
export const SEED = 0;

/** Hash state after absorbing a prefix: running hash, pending tail bytes, their count, total length. */
export type HashState = readonly [h: number, k: number, n: number, length: number];

const INITIAL: HashState = [SEED, 0, 0, 0];

const scramble = (k: number): number => Math.imul(((k = Math.imul(k, 0xcc9e2d51)) << 15) | (k >>> 17), 0x1b873593);

/**
 * Absorb the UTF-8 bytes of `text` into `state`; returns the new state, or with `finish` the
 * final hash (then nothing is allocated).
 */
function absorb(state: HashState, text: string, finish: true): number;
function absorb(state: HashState, text: string, finish?: false): HashState;
function absorb(state: HashState, text: string, finish?: boolean): number | HashState {
  let h = state[0];
  let k = state[1];
  let n = state[2];
  let length = state[3];
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    // The character's UTF-8 bytes, first byte lowest, and their count.
    let bytes = c;
    let count = 1;
    if (c >= 0x80) {
      count = 2;
      if (c >= 0x800) {
        count = 3;
        const next = text.charCodeAt(i + 1); // NaN past the end: never a low surrogate
        if (c >> 10 === 0x36 && next >> 10 === 0x37) {
          c = 0x10000 + ((c & 0x3ff) << 10) + (next & 0x3ff);
          i++;
          count = 4;
        } else if (c >> 11 === 0x1b) c = 0xfffd; // a lone surrogate: what TextEncoder writes
      }
      // Continuation bytes (10xxxxxx), the last one first, then the lead byte (110xxxxx, 1110xxxx or 11110xxx).
      bytes = 0;
      for (let j = 1; j < count; j++, c >>= 6) bytes = (bytes << 8) | 0x80 | (c & 63);
      bytes = (bytes << 8) | ((0xff00 >> count) & 0xff) | c;
    }
    length += count;
    for (; count > 0; count--, bytes >>>= 8) {
      k |= (bytes & 0xff) << (n << 3);
      if (++n === 4) {
        h ^= scramble(k);
        h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
        k = n = 0;
      }
    }
  }
  if (!finish) return [h, k, n, length];
  h ^= scramble(k) ^ length; // scramble(0) is 0: no tail, no change
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** murmur3_x86_32 (seed 0) of the UTF-8 bytes of `text`, as an unsigned 32-bit integer. */
export function murmur3(text: string): number {
  return absorb(INITIAL, text, true);
}

/** The state after hashing `salt + ":"`: what every bucket computation for one salt starts from. */
export function saltState(salt: string): HashState {
  return absorb(INITIAL, `${salt}:`);
}

/** Bucket (0..99999) of `unitId` within the rollout salted by `saltState(salt)`. */
export function bucketFrom(state: HashState, unitId: string): number {
  return absorb(state, unitId, true) % BUCKETS;
}

/**
 * The user's bucket, 0..99999, for a salt (the flag key by default).
 * @example bucket('new_checkout_flow', 'user-1') // 34510
 */
export function bucket(salt: string, unitId: string): number {
  return bucketFrom(saltState(salt), unitId);
}

/** Buckets covered by a percentage (0..100, at most three decimals): [0, percentageToBuckets(p)). */
export function percentageToBuckets(percentage: number): number {
  return Math.round(percentage * (BUCKETS / 100));
}
