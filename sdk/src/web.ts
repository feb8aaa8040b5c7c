/**
 * `@switchyard/sdk/web`: the browser client. Values only — the server evaluates every flag for the
 * one user through OFREP bulk evaluation, so rules and other users' targeting never reach the page.
 * It imports neither the evaluator nor the core client (≤ 3 KB gzipped, see test/bench/sdk-size.ts).
 *
 * Cache-first: the values last seen for this user (localStorage) or the `bootstrap` values answer
 * `isEnabled`/`variation` synchronously from the very first call, so a reload does not flicker.
 */
import type { Clock } from './options.js';
import { webInsights, type WebInsightsStats } from './web-insights.js';

export { INSIGHT_RETRIES, MAX_INSIGHT_KEYS, WEB_SDK, type WebInsightsStats } from './web-insights.js';

/** Attributes of the user; `targetingKey` is the user ID. */
export type WebContext = { targetingKey?: string } & Record<string, unknown>;
export type FlagValues = Record<string, unknown>;
/** The part of `localStorage` the client uses. */
export type WebStorage = Pick<Storage, 'getItem' | 'setItem'>;
/** The part of `EventSource` the client uses (OFREP event streams). */
export interface EventSourceLike {
  readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  close(): void;
}
export type WebFetch = (url: string, init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal; keepalive?: boolean }) => Promise<Pick<Response, 'status' | 'headers' | 'json'>>;

export interface WebClientOptions {
  /** Base URL of the Switchyard server, e.g. `https://flags.example.com`. */
  url: string;
  /** The key sent as `Authorization: Bearer …` (a values-only client key, or an SDK key). */
  clientKey: string;
  context: WebContext;
  /** Values rendered by your server for this page; they win over the stored ones until the first answer. */
  bootstrap?: FlagValues;
  /** Where values are kept between page loads (default `localStorage`; `null` = nowhere). */
  storage?: WebStorage | null;
  /** Prefix of the storage entries (default `switchyard`). */
  storageKey?: string;
  /** Polling period when the server offers no event stream (default 30 s; 0 = off). */
  pollIntervalMs?: number;
  /** Longest wait for an answer, headers and body (default 10 s). */
  requestTimeoutMs?: number;
  fetch?: WebFetch;
  clock?: Clock;
  EventSource?: new (url: string) => EventSourceLike;
  /**
   * Evaluation insights: how often each flag served each variation here, uploaded as one summary
   * every `insightsIntervalMs` (default 60 s) and on `close()` (default `true`; `false` = off).
   * Values the server has not answered yet (bootstrap, storage without variants) are not counted.
   */
  insights?: boolean;
  insightsIntervalMs?: number;
}

export interface WebClientEvents {
  /** Once, when the first server answer arrived. */
  ready: () => void;
  /** Keys whose values changed (a server answer, or `identify` loading another user's values). */
  change: (keys: string[]) => void;
  /** A request failed or timed out; the values held so far keep being served. */
  error: (error: Error) => void;
}

export interface WebClient {
  isEnabled(flag: string, defaultValue?: boolean): boolean;
  /** The flag's value, or `defaultValue` when unknown or of another type than `defaultValue`. */
  variation<T>(flag: string, defaultValue: T): T;
  allFlags(): FlagValues;
  /** Switch user: that user's stored values at once, then the server's. Resolves as `ready()` does. */
  identify(context: WebContext): Promise<boolean>;
  on<E extends keyof WebClientEvents>(event: E, listener: WebClientEvents[E]): () => void;
  /** Settles once: true when the first server answer arrived, false when the first request failed. */
  ready(): Promise<boolean>;
  insightsStats(): WebInsightsStats;
  /** Stop, sending the last evaluation summary. */
  close(): void;
}

interface BulkAnswer {
  flags: { key: string; value?: unknown; variant?: string; errorCode?: string }[];
  eventStreams?: { type: string; url?: string; endpoint?: { origin?: string; requestUri: string } }[];
}

/**
 * What a refusal means, in the error: OFREP sends 401/403 without a body, and the reason the server
 * gives (WWW-Authenticate) is not readable cross-origin.
 */
const REFUSED: Record<number, string> = {
  401: ' (unknown or revoked key)',
  403: ' (an API token is no client key; in secure mode, switchyardSignature must sign this targetingKey)',
};

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** 2 × 32-bit FNV-style hash: storage entries are named by user without writing the user ID out. */
function hash(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x2545f491;
  for (let i = 0; i < text.length; i++) {
    a = Math.imul(a ^ text.charCodeAt(i), 0x01000193);
    b = Math.imul(b ^ text.charCodeAt(i), 0x5bd1e995);
  }
  return (a >>> 0).toString(36) + (b >>> 0).toString(36);
}

function fail(option: string, expected: string): never {
  throw new TypeError(`createWebClient: option "${option}" must be ${expected}`);
}

/**
 * @example
 * const flags = createWebClient({ url: 'https://flags.example.com', clientKey: 'sy_…', context: { targetingKey: user.id } });
 * if (flags.isEnabled('new-checkout')) showNewCheckout();
 * flags.on('change', () => render());
 */
export function createWebClient(options: WebClientOptions): WebClient {
  const { url, clientKey, bootstrap, storageKey = 'switchyard', pollIntervalMs = 30_000, requestTimeoutMs = 10_000, insights = true, insightsIntervalMs = 60_000 } = options ?? fail('options', 'an object');
  let base: URL | undefined;
  try {
    base = new URL(url);
  } catch {
    // reported below
  }
  if (!base || !/^https?:$/.test(base.protocol)) fail('url', 'an http(s) URL');
  if (typeof clientKey !== 'string' || !clientKey) fail('clientKey', 'a non-empty string');
  const checkContext = (context: unknown) => {
    if (!isObject(context) || (context.targetingKey !== undefined && typeof context.targetingKey !== 'string')) fail('context', 'an object whose targetingKey is a string');
  };
  checkContext(options.context);
  if (bootstrap !== undefined && !isObject(bootstrap)) fail('bootstrap', 'an object of flag values');
  if (typeof storageKey !== 'string') fail('storageKey', 'a string');
  if (!(pollIntervalMs >= 0 && pollIntervalMs < 2 ** 31)) fail('pollIntervalMs', 'a number of milliseconds ≥ 0');
  if (!(requestTimeoutMs > 0 && requestTimeoutMs < 2 ** 31)) fail('requestTimeoutMs', 'a number of milliseconds > 0');
  if (!(insightsIntervalMs > 0 && insightsIntervalMs < 2 ** 31)) fail('insightsIntervalMs', 'a number of milliseconds > 0');
  const fetchFn = options.fetch ?? (globalThis.fetch as WebFetch | undefined);
  if (typeof fetchFn !== 'function') fail('fetch', 'a function');
  const clock: Clock = options.clock ?? { now: Date.now, setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>) };
  const Source = options.EventSource ?? (globalThis as { EventSource?: WebClientOptions['EventSource'] }).EventSource;
  let storage = options.storage;
  if (storage === undefined) {
    try {
      storage = globalThis.localStorage; // throws where storage is blocked (sandboxed frames, some private modes)
    } catch {
      storage = null;
    }
  }
  const root = base.href.replace(/\/?$/, '/');
  const endpoint = root + 'ofrep/v1/evaluate/flags';
  const authorization = `Bearer ${clientKey}`;

  let context = options.context;
  let values: FlagValues = {};
  /** The variant of each value, from the server's answers (what insights count by). */
  let variants: Record<string, string> = {};
  const counter = webInsights(root + 'api/sdk/evaluations', authorization, fetchFn!, clock, insightsIntervalMs, requestTimeoutMs);
  let etag: string | null | undefined;
  let seq = 0;
  let inFlight: AbortController | undefined;
  let pollTimer: unknown;
  let streams: EventSourceLike[] = [];
  let streamUrls = '';
  /** The event streams last advertised for this key (stored too: a 304 carries none). */
  let advertised: BulkAnswer['eventStreams'];
  let closed = false;
  let announced = false;
  let settleReady: (ok: boolean) => void;
  const readyPromise = new Promise<boolean>((resolve) => (settleReady = resolve));
  const listeners: { [E in keyof WebClientEvents]: Set<WebClientEvents[E]> } = { ready: new Set(), change: new Set(), error: new Set() };

  function emit<E extends keyof WebClientEvents>(event: E, ...args: Parameters<WebClientEvents[E]>) {
    for (const listener of listeners[event]) {
      try {
        (listener as (...a: unknown[]) => void)(...args);
      } catch (error) {
        // A throwing listener must neither stop the others nor break the client; still report it.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  // Per user (targetingKey), server and key: switching users never shows another user's values.
  const entryName = () => `${storageKey}:${hash(`${url}\n${clientKey}\n${context.targetingKey ?? ''}`)}`;

  function load(): { e?: string | null; f: FlagValues; s?: BulkAnswer['eventStreams']; v?: Record<string, string> } | undefined {
    try {
      const entry = JSON.parse(storage?.getItem(entryName()) ?? 'null') as unknown;
      if (isObject(entry) && isObject(entry.f)) return entry as { e?: string | null; f: FlagValues; s?: BulkAnswer['eventStreams']; v?: Record<string, string> };
    } catch {
      // unreadable or blocked storage: start without
    }
  }

  function replace(next: FlagValues) {
    const changed = [...new Set([...Object.keys(values), ...Object.keys(next)])].filter((key) => JSON.stringify(values[key]) !== JSON.stringify(next[key]));
    values = next;
    if (changed.length) emit('change', changed);
  }

  function start() {
    const stored = load();
    // Bootstrap values come from this very page load: fresher than storage, but without an ETag.
    values = bootstrap ?? stored?.f ?? {};
    variants = (!bootstrap && stored?.v) || {};
    etag = bootstrap ? undefined : stored?.e;
    // A reload's first answer is usually a 304 (no body, so no `eventStreams`): without the stored
    // streams the page would poll until the next change instead of being notified of it.
    advertised = stored?.s;
  }

  function schedule() {
    clock.clearTimeout(pollTimer);
    if (!closed && !streams.length && pollIntervalMs > 0) pollTimer = clock.setTimeout(() => void refresh(), pollIntervalMs);
  }

  function closeStreams() {
    for (const stream of streams) stream.close();
    streams = [];
    streamUrls = '';
  }

  /** OFREP event streams (ADR-0008): notification only — each `refetchEvaluation` re-fetches bulk. */
  function connect(list: BulkAnswer['eventStreams']) {
    const urls = (Array.isArray(list) ? list : [])
      .filter((s) => isObject(s) && s.type === 'sse' && (typeof s.url === 'string' || typeof s.endpoint?.requestUri === 'string'))
      .map((s) => s.url ?? (s.endpoint!.origin ?? base!.origin) + s.endpoint!.requestUri);
    if (!Source || urls.join(' ') === streamUrls) return;
    closeStreams();
    streamUrls = urls.join(' ');
    for (const streamUrl of urls) {
      const stream = new Source(streamUrl);
      let opened = false;
      // A reconnect may have missed events: re-fetch at once (the first open follows a fetch).
      stream.onopen = () => void (opened ? refresh() : (opened = true));
      stream.onmessage = (event) => {
        let data: unknown;
        try {
          data = JSON.parse(event.data);
        } catch {
          return;
        }
        if (!isObject(data) || data.type !== 'refetchEvaluation') return; // unknown types: ignore
        const query = new URLSearchParams();
        if (data.etag !== undefined) query.set('flagConfigEtag', String(data.etag));
        if (data.lastModified !== undefined) query.set('flagConfigLastModified', String(data.lastModified));
        void refresh(`${query}`);
      };
      // EventSource retries by itself; once it gives up (CLOSED = 2), fall back to polling.
      stream.onerror = () => {
        if (stream.readyState === 2) {
          closeStreams();
          schedule();
        }
      };
      streams.push(stream);
    }
  }

  async function refresh(query = ''): Promise<boolean> {
    if (closed) return false;
    const id = ++seq;
    inFlight?.abort(); // superseded: its answer would be ignored anyway
    const controller = (inFlight = new AbortController());
    let timer: unknown;
    const timeout = new Promise<never>((_, reject) => {
      timer = clock.setTimeout(() => {
        reject(new Error(`Switchyard: no answer within ${requestTimeoutMs} ms`));
        controller.abort();
      }, requestTimeoutMs);
    });
    try {
      // The race, not only the abort, guarantees the timeout even with a fetch that ignores signals.
      const response = await Promise.race([
        fetchFn!(endpoint + (query && '?' + query), {
          method: 'POST',
          headers: { authorization, 'content-type': 'application/json', ...(etag ? { 'if-none-match': etag } : {}) },
          body: JSON.stringify({ context }),
          signal: controller.signal,
        }),
        timeout,
      ]);
      const { status } = response;
      if (status !== 200 && status !== 304) throw new Error(`Switchyard: bulk evaluation answered HTTP ${status}${REFUSED[status] ?? ''}`);
      const body = status === 200 ? ((await Promise.race([response.json(), timeout])) as BulkAnswer) : undefined;
      if (id !== seq) return false; // a newer request (another user, a later change) owns the values
      if (status === 200) {
        if (!isObject(body) || !Array.isArray(body.flags)) throw new Error('Switchyard: malformed bulk evaluation answer');
        const next: FlagValues = {};
        variants = {};
        for (const flag of body.flags) {
          if (isObject(flag) && typeof flag.key === 'string' && 'value' in flag && !flag.errorCode) {
            next[flag.key] = flag.value;
            if (typeof flag.variant === 'string') variants[flag.key] = flag.variant;
          }
        }
        etag = response.headers.get('etag');
        advertised = body.eventStreams;
        replace(next);
        try {
          storage?.setItem(entryName(), JSON.stringify({ e: etag, f: values, s: advertised, v: variants, t: clock.now() }));
        } catch {
          // full or blocked storage: the values still work for this page
        }
      }
      connect(advertised);
      if (!announced) {
        announced = true;
        emit('ready');
      }
      settleReady(true);
      return true;
    } catch (error) {
      if (id !== seq || closed) return false;
      emit('error', error instanceof Error ? error : new Error(String(error)));
      settleReady(false);
      return false;
    } finally {
      clock.clearTimeout(timer);
      if (id === seq) schedule();
    }
  }

  start();
  void refresh();

  return {
    isEnabled: (flag, defaultValue = false) => variation(flag, defaultValue),
    variation,
    allFlags: () => ({ ...values }),
    identify(next) {
      checkContext(next);
      context = next;
      const stored = load();
      etag = stored?.e;
      advertised ??= stored?.s; // the streams are the key's, not the user's
      variants = stored?.v ?? {};
      replace(stored?.f ?? {});
      return refresh();
    },
    on(event, listener) {
      listeners[event].add(listener);
      return () => void listeners[event].delete(listener);
    },
    ready: () => readyPromise,
    insightsStats: counter.stats,
    close() {
      closed = true;
      inFlight?.abort();
      clock.clearTimeout(pollTimer);
      closeStreams();
      settleReady(false);
      counter.close(); // nothing counted (or insights: false): nothing sent
    },
  };

  function variation<T>(flag: string, defaultValue: T): T {
    const value = values[flag];
    if (value !== undefined && typeof value === typeof defaultValue && Array.isArray(value) === Array.isArray(defaultValue) && (value === null) === (defaultValue === null)) {
      count(flag);
      return value as T;
    }
    return defaultValue;
  }

  /** Evaluation insights count by the variant the server named (bootstrap values have none). */
  function count(flag: string) {
    const variant = variants[flag];
    if (insights && variant !== undefined && !closed) counter.count(flag, variant);
  }
}
