/**
 * Deterministic bucketing — the contract every Switchyard implementation shares:
 *
 *   bucket(salt, unitId) = murmur3_x86_32(utf8(salt + ":" + unitId), seed = 0) % 100000
 *
 * The hash is computed straight from the UTF-16 string, encoding UTF-8 on the fly, so a call
 * allocates nothing (the `murmurhash` package's string path allocates a TextEncoder buffer per
 * call, which costs more than the hash itself). Lone surrogates become U+FFFD, exactly as
 * `TextEncoder` encodes them. The salt prefix is hashed once and its state reused (`prefixState`).
 */

/** Buckets run 0..99999, so a rollout is expressed in units of 0.001%. */
export const BUCKETS = 100_000;
export const SEED = 0;

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** Hash state after absorbing a prefix: running hash, pending tail bytes, their count, total length. */
export interface HashState {
  readonly h: number;
  readonly k: number;
  readonly n: number;
  readonly length: number;
}

const INITIAL: HashState = { h: SEED, k: 0, n: 0, length: 0 };

// Scratch written by `absorb`: the only way to return four numbers without allocating.
let outH = 0;
let outK = 0;
let outN = 0;
let outLength = 0;

function absorb(h: number, k: number, n: number, length: number, text: string): void {
  const size = text.length;
  for (let i = 0; i < size; i++) {
    let c = text.charCodeAt(i);
    let packed: number;
    let count: number;
    const next = c >= 0xd800 && c <= 0xdbff && i + 1 < size ? text.charCodeAt(i + 1) : 0;
    if (c < 0x80) {
      packed = c;
      count = 1;
    } else if (c < 0x800) {
      packed = (0xc0 | (c >> 6)) | ((0x80 | (c & 63)) << 8);
      count = 2;
    } else if (next >= 0xdc00 && next <= 0xdfff) {
      const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
      i++;
      packed =
        (0xf0 | (cp >> 18)) |
        ((0x80 | ((cp >> 12) & 63)) << 8) |
        ((0x80 | ((cp >> 6) & 63)) << 16) |
        ((0x80 | (cp & 63)) << 24);
      count = 4;
    } else {
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // lone surrogate: what TextEncoder writes
      packed = (0xe0 | (c >> 12)) | ((0x80 | ((c >> 6) & 63)) << 8) | ((0x80 | (c & 63)) << 16);
      count = 3;
    }
    for (let j = 0; j < count; j++) {
      k |= ((packed >>> (j << 3)) & 0xff) << (n << 3);
      if (++n === 4) {
        k = Math.imul(k, C1);
        k = (k << 15) | (k >>> 17);
        k = Math.imul(k, C2);
        h ^= k;
        h = (h << 13) | (h >>> 19);
        h = (Math.imul(h, 5) + 0xe6546b64) | 0;
        k = 0;
        n = 0;
      }
    }
    length += count;
  }
  outH = h;
  outK = k;
  outN = n;
  outLength = length;
}

function finish(h: number, k: number, n: number, length: number): number {
  if (n > 0) {
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The hash state after `text`, to continue hashing from with `murmur3From`. */
export function prefixState(text: string, from: HashState = INITIAL): HashState {
  absorb(from.h, from.k, from.n, from.length, text);
  return { h: outH, k: outK, n: outN, length: outLength };
}

/** murmur3_x86_32 of (the prefix behind `state`) + `text`, as an unsigned 32-bit integer. */
export function murmur3From(state: HashState, text: string): number {
  absorb(state.h, state.k, state.n, state.length, text);
  return finish(outH, outK, outN, outLength);
}

/** murmur3_x86_32 (seed 0) of the UTF-8 bytes of `text`, as an unsigned 32-bit integer. */
export function murmur3(text: string): number {
  return murmur3From(INITIAL, text);
}

/** The state after hashing `salt + ":"`: what every bucket computation for one salt starts from. */
export function saltState(salt: string): HashState {
  return prefixState(':', prefixState(salt));
}

/** Bucket (0..99999) of `unitId` within the rollout salted by `saltStateOf(salt)`. */
export function bucketFrom(state: HashState, unitId: string): number {
  return murmur3From(state, unitId) % BUCKETS;
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
