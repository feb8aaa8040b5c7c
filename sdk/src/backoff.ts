/** Reconnect delays: capped exponential backoff with full jitter (AWS architecture blog's "Full Jitter"). */

export interface BackoffOptions {
  /** Delay ceiling of the first retry (attempt 0). */
  baseMs: number;
  /** Cap on the ceiling, however many attempts failed. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = Object.freeze({ baseMs: 1_000, maxMs: 30_000 });

/**
 * The delay before retry number `attempt` (0-based): `random() * min(maxMs, baseMs * 2^attempt)`.
 * Full jitter spreads a thundering herd of reconnecting SDKs evenly over the window after an outage.
 * Pure: the same attempt and random value always give the same delay.
 * @example backoffDelay(3, Math.random) // somewhere in [0, 8000)
 */
export function backoffDelay(attempt: number, random: () => number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  // A negative or NaN attempt counts as 0; the exponent is clamped so the product stays finite.
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(Math.max(Math.floor(attempt), 0) || 0, 52));
  return unit(random) * ceiling;
}

/** `random()` within [0, 1]: NaN or negative randomness is 0 (no delay). */
function unit(random: () => number): number {
  const r = random();
  return r > 0 ? Math.min(r, 1) : 0;
}

/**
 * The delay before reopening a stream that was working when it ended (a server restart, a proxy
 * closing idle connections): `baseMs * (1 + random()) / 2`, between half and all of `baseMs`. Quick,
 * as the server was fine a moment ago; never 0, so the fleet one restart disconnected at the same
 * instant does not come back in the same instant.
 * @example resumeDelay(Math.random) // somewhere in [500, 1000]
 */
export function resumeDelay(random: () => number, baseMs: number = DEFAULT_BACKOFF.baseMs): number {
  return (baseMs / 2) * (1 + unit(random));
}
