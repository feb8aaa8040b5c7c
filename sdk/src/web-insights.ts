/**
 * Evaluation insights of the browser client (`@switchyard/sdk/web`): how often each flag served
 * each variant here, counted in memory and uploaded as one summary to `url` (`POST /api/sdk/evaluations`)
 * with `authorization`, every `intervalMs`; each upload times out after `timeoutMs`.
 */
import type { Clock } from './options.js';
import type { WebFetch } from './web.js';

/** Reported with evaluation insights ("connected SDKs"); kept equal to the package's version by a test. */
export const WEB_SDK = { name: 'switchyard-web', version: '0.1.0' } as const;
/** Distinct flag variations counted between two uploads; more are dropped and counted. */
export const MAX_INSIGHT_KEYS = 1000;
/** Uploads a summary the server did not take (network, 429, 5xx) rides along with, before it is dropped. */
export const INSIGHT_RETRIES = 3;

/** Evaluation insights' counters: summaries uploaded, counts dropped (over the key limit, refused, or the server away for INSIGHT_RETRIES uploads). */
export interface WebInsightsStats {
  flushed: number;
  dropped: number;
}

/**
 * One counter per flag variation, bounded; the timer runs only while there are counts. A summary
 * the server did not take (network, 429, 5xx) is merged into the counts since and sent with the
 * next upload, which waits twice as long; after INSIGHT_RETRIES such uploads in a row, or at once
 * when refused (other 4xx) or sent as the page goes away (`close`), it is dropped and counted.
 */
export function webInsights(url: string, authorization: string, fetch: WebFetch, clock: Clock, intervalMs: number, timeoutMs: number) {
  /** `flag\0variant` → evaluations since the last upload. */
  let counts: Record<string, number> = {};
  let countKeys = 0;
  let timer: unknown;
  /** Failed uploads in a row: the next waits `intervalMs` × 2^failures. */
  let failures = 0;
  let closed = false;
  const stats: WebInsightsStats = { flushed: 0, dropped: 0 };

  function add(key: string, n: number) {
    if (counts[key]) counts[key] += n;
    else if (countKeys >= MAX_INSIGHT_KEYS) stats.dropped += n;
    else {
      counts[key] = n;
      countKeys++;
      schedule();
    }
  }

  function schedule() {
    timer ??= clock.setTimeout(() => upload(), intervalMs * 2 ** failures);
  }

  function upload(last?: boolean) {
    clock.clearTimeout(timer);
    timer = undefined;
    const sent = counts;
    const keys = Object.keys(sent);
    counts = {};
    countKeys = 0;
    if (!keys.length) return;
    const controller = new AbortController();
    const abort = clock.setTimeout(() => controller.abort(), timeoutMs);
    const failed = (retry: boolean) => {
      if (retry && !last && !closed && failures < INSIGHT_RETRIES) {
        failures++;
        // Counts made since the upload started their timer at the old pace: the merged ones wait at the new one.
        clock.clearTimeout(timer);
        timer = undefined;
        for (const key of keys) add(key, sent[key]!);
        schedule();
      } else {
        failures = 0;
        for (const key of keys) stats.dropped += sent[key]!;
      }
    };
    fetch(url, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify({
        sdk: WEB_SDK.name,
        version: WEB_SDK.version,
        evaluations: keys.map((key) => {
          const [flag, variation] = key.split('\0');
          return { flag, variation, count: sent[key]! };
        }),
      }),
      signal: controller.signal,
      keepalive: last,
    })
      .then(
        (response) => {
          if (response.status >= 300) return failed(response.status === 429 || response.status >= 500);
          stats.flushed++;
          failures = 0;
        },
        () => failed(true),
      )
      .finally(() => clock.clearTimeout(abort));
  }

  return {
    count(flag: string, variant: string) {
      if (!closed) add(flag + '\0' + variant, 1);
    },
    stats: () => ({ ...stats }),
    /** The last summary, sent as the page may be going away. */
    close() {
      closed = true;
      upload(true);
    },
  };
}
