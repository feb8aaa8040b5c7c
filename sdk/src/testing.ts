/**
 * `@switchyard/sdk/testing`: a test double of the client for application tests — no server, no
 * network, no timers. It has the client's whole public API (`isEnabled`, `variation`, `evaluate`,
 * `allFlags`, `ready`, `on`/`once`/`off`, `track`, `close`, …) and serves the values you give it,
 * per user if you like; `set` changes a value and emits `change` as the real client does when the
 * rules change. Not part of the core entry: it adds no bytes to `@switchyard/sdk`.
 *
 * (`sdk/src/testing/fakes.ts` is something else: the SDK's own internal fakes of the server.)
 *
 * @example
 * const flags = createTestClient({ flags: { 'new-checkout': true, 'checkout-theme': 'dark' }, users: { u1: { 'new-checkout': false } } });
 * expect(renderCheckout(flags, 'u2')).toContain('new checkout');
 * expect(renderCheckout(flags, 'u1')).toContain('old checkout');
 * flags.set('checkout-theme', 'light'); // every user; `set(flag, value, 'u1')` for one
 */
import type {
  ClientEvaluation,
  ClientEvent,
  ClientEvents,
  ContextInput,
  DefaultFor,
  FlagKey,
  FlagTypes,
  Listener,
  NotReadyReason,
  ReadyResult,
  SwitchyardClient,
  UntypedFlags,
} from './client-api.js';
import { SwitchyardError } from './errors.js';
import type { JsonValue } from './types.js';
import type { FlagValues, WebClient, WebContext } from './web.js';

export interface TestClientOptions<F extends FlagTypes = UntypedFlags> {
  /** Each flag's value for every user. A flag not listed is unknown: callers get their default. */
  flags?: Partial<F>;
  /** Per-user values, by user ID: they win over `flags` for that user. */
  users?: Record<string, Partial<F>>;
  /**
   * Simulate a client that got no rules: `ready()` resolves `false` with this reason (`unauthorized`
   * also emits an `UNAUTHORIZED` `error` event), `initialized` is false and every call serves the
   * caller's default — until `set` is called, which makes it ready.
   */
  notReady?: NotReadyReason;
  /** Where throwing listeners are reported (default `console`), like the real client. */
  logger?: { error(message: string, ...details: unknown[]): void };
}

/** One `track` call, as recorded by the test client. */
export interface TrackedEvent {
  eventName: string;
  userId: string | undefined;
  value: number | undefined;
}

export interface TestClient<F extends FlagTypes = UntypedFlags> extends SwitchyardClient<F> {
  /**
   * Set a flag's value for every user, or for `userId` only; `undefined` removes it (the flag becomes
   * unknown, or the user gets the value for everyone again). Emits `change` with `[flag]` when the value changed.
   */
  set<K extends FlagKey<F>>(flag: K, value: DefaultFor<F, K> | undefined, userId?: string): void;
  /** Emit an event as the real client would (`error`, `stale`, `recovered`…), to test the app's handling. */
  emit<E extends ClientEvent>(event: E, ...payload: ClientEvents[E] extends void ? [] : [ClientEvents[E]]): void;
  /** Every `track` call so far. */
  readonly tracked: readonly TrackedEvent[];
  /**
   * A values-only view for one user with the browser client's API (`@switchyard/sdk/web`), e.g. for
   * `<SwitchyardProvider client={…}>` of `@switchyard/react`. It follows `set` (and emits `change`);
   * `identify` switches user.
   */
  webClient(context?: string | WebContext): WebClient;
}

/** The kind of a value as `variation` compares it with the default (the real client's rule). */
const kindOf = (value: unknown): string => (value === null ? 'object' : typeof value);

/** The user ID of a context: a string, or its `userId` (the real client's default unit), else `targetingKey`. */
function userIdOf(context: unknown): string | undefined {
  if (typeof context === 'string') return context;
  if (typeof context === 'number' && Number.isFinite(context)) return String(context);
  if (typeof context !== 'object' || context === null) return undefined;
  const { userId, targetingKey } = context as { userId?: unknown; targetingKey?: unknown };
  const id = userId ?? targetingKey;
  return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
}

function checkValues(values: unknown, what: string): Map<string, JsonValue> {
  if (values === undefined) return new Map();
  if (typeof values !== 'object' || values === null || Array.isArray(values)) throw new TypeError(`createTestClient: ${what} must be an object of flag values`);
  const map = new Map<string, JsonValue>();
  for (const [flag, value] of Object.entries(values)) {
    if (value === undefined) continue;
    checkValue(value, `${what}.${flag}`);
    map.set(flag, value as JsonValue);
  }
  return map;
}

function checkValue(value: unknown, what: string): void {
  if (typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint' || (typeof value === 'number' && !Number.isFinite(value))) {
    throw new TypeError(`createTestClient: ${what} must be a JSON value, got ${String(value)}`);
  }
}

type AnyListener = (payload?: unknown) => void;

/**
 * A client for tests: serves `flags` (and per-user `users` values) with the real client's API and
 * type rules (a value of another type than the default is not served: `TYPE_MISMATCH`). With a type
 * argument (`createTestClient<Flags>(…)`, `Flags` from `switchyard codegen`) keys and values are
 * checked at compile time, as with `createClient<Flags>`.
 */
export function createTestClient<F extends FlagTypes = UntypedFlags>(options: TestClientOptions<NoInfer<F>> = {}): TestClient<F> {
  if (typeof options !== 'object' || options === null) throw new TypeError('createTestClient: options must be an object');
  const everyone = checkValues(options.flags, 'flags');
  const perUser = new Map<string, Map<string, JsonValue>>();
  if (options.users !== undefined && (typeof options.users !== 'object' || options.users === null)) throw new TypeError('createTestClient: users must be an object of user IDs');
  for (const [userId, values] of Object.entries(options.users ?? {})) perUser.set(userId, checkValues(values, `users.${userId}`));
  const logger = options.logger ?? console;
  const listeners = new Map<ClientEvent, Set<AnyListener>>();
  const tracked: TrackedEvent[] = [];
  let notReady = options.notReady;
  let version = 1;
  let closed = false;
  let markReady!: (reason: NotReadyReason | undefined) => void;
  const readyPromise = new Promise<NotReadyReason | undefined>((resolve) => (markReady = resolve));
  const error = notReady === 'unauthorized' ? new SwitchyardError('UNAUTHORIZED', 'stream: SDK key rejected, HTTP 401', 401) : undefined;
  if (notReady === undefined) markReady(undefined);
  else if (notReady !== 'timeout') markReady(notReady); // a timeout is the caller's `timeoutMs` passing (or at once without one)

  const emit = (event: ClientEvent, payload?: unknown): void => {
    if (closed) return;
    for (const listener of [...(listeners.get(event) ?? [])]) {
      try {
        listener(payload);
      } catch (caught) {
        logger.error('a listener threw', caught);
      }
    }
  };
  // Like the real client: `ready` (or the rejected key) is heard by listeners attached right after creation.
  queueMicrotask(() => (notReady === undefined ? emit('ready') : error && emit('error', error)));

  /** The value this user gets, and whether it is theirs only. */
  function lookup(flag: unknown, context: unknown): { value: JsonValue; own: boolean } | undefined {
    if (notReady !== undefined || typeof flag !== 'string') return undefined;
    const userId = userIdOf(context);
    const own = userId === undefined ? undefined : perUser.get(userId);
    if (own?.has(flag)) return { value: own.get(flag)!, own: true };
    return everyone.has(flag) ? { value: everyone.get(flag)!, own: false } : undefined;
  }

  function evaluate(flag: string, context: unknown, defaultValue: unknown): ClientEvaluation<JsonValue> {
    const found = lookup(flag, context);
    const fallback = defaultValue as JsonValue;
    if (!found) return { value: fallback, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND', errorMessage: `flag ${flag} not found` };
    const [expected, actual] = [kindOf(defaultValue), kindOf(found.value)];
    if (defaultValue !== undefined && expected !== actual) {
      return { value: fallback, reason: 'ERROR', errorCode: 'TYPE_MISMATCH', errorMessage: `flag ${flag} serves a ${actual}, the default is a ${expected}` };
    }
    return { value: found.value, reason: found.own ? 'TARGETING_MATCH' : 'STATIC' };
  }

  function allFlags(context: unknown): Record<string, JsonValue> {
    if (notReady !== undefined) return {};
    const userId = userIdOf(context);
    return Object.fromEntries([...everyone, ...((userId !== undefined && perUser.get(userId)) || [])]);
  }

  const client: TestClient<UntypedFlags> = {
    get initialized() {
      return notReady === undefined;
    },
    get version() {
      return notReady === undefined ? version : undefined;
    },
    get tracked() {
      return tracked;
    },
    ready(readyOptions) {
      // No timers: a `timeout` client answers at once, whatever `timeoutMs`.
      const result = notReady === 'timeout' ? Promise.resolve<NotReadyReason>('timeout') : readyPromise;
      return result.then((reason): boolean | ReadyResult => (readyOptions?.detailed ? { ready: !reason, reason, error } : !reason)) as never;
    },
    isEnabled(flag, userIdOrContext, defaultValue = false) {
      const value = lookup(flag, userIdOrContext)?.value;
      return typeof value === 'boolean' ? value : defaultValue === true;
    },
    variation(flag, context, defaultValue) {
      return evaluate(flag, context, defaultValue).value as never;
    },
    evaluate(flag, context, defaultValue) {
      return evaluate(flag, context, defaultValue) as never;
    },
    allFlags: (context) => allFlags(context),
    getRuleSet: () => undefined,
    track(eventName, userIdOrContext, value) {
      if (!closed) tracked.push({ eventName, userId: userIdOf(userIdOrContext), value });
    },
    flush: async () => {},
    metricsStats: () => ({ dropped: 0, flushed: 0, failedBatches: 0 }),
    on(event, listener) {
      const set = listeners.get(event) ?? new Set();
      listeners.set(event, set.add(listener as AnyListener));
      return () => client.off(event, listener);
    },
    once<E extends ClientEvent>(event: E, listener: Listener<ClientEvents[E]>) {
      const off = client.on(event, ((payload: never) => {
        off();
        (listener as AnyListener)(payload);
      }) as Listener<ClientEvents[E]>);
      return off;
    },
    off(event, listener) {
      listeners.get(event)?.delete(listener as AnyListener);
    },
    async close() {
      if (closed) return;
      markReady('closed');
      closed = true;
      listeners.clear();
    },
    set(flag, value, userId) {
      if (typeof flag !== 'string') throw new TypeError('set: the flag key must be a string');
      if (userId !== undefined && typeof userId !== 'string') throw new TypeError('set: the user ID must be a string');
      checkValue(value, flag);
      let values = userId === undefined ? everyone : perUser.get(userId);
      if (!values) perUser.set(userId!, (values = new Map()));
      const before = values.get(flag);
      if (value === undefined) values.delete(flag);
      else values.set(flag, value as JsonValue);
      const wasReady = notReady === undefined;
      if (!wasReady && !closed) {
        notReady = undefined;
        markReady(undefined);
        emit('ready');
      } else if (JSON.stringify(before) !== JSON.stringify(value)) {
        version++;
        emit('change', [flag]);
      }
    },
    emit(event, ...payload) {
      emit(event, payload[0]);
    },
    webClient(initial) {
      let context: unknown = initial;
      const web: WebClient = {
        isEnabled: (flag, defaultValue = false) => client.isEnabled(flag, context as ContextInput, defaultValue),
        variation: <T>(flag: string, defaultValue: T): T => client.variation(flag, context as ContextInput, defaultValue as JsonValue) as T,
        allFlags: (): FlagValues => allFlags(context),
        identify(next) {
          const before = allFlags(context);
          context = next;
          const after = allFlags(context);
          const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
          if (changed.length > 0) emit('change', changed);
          return web.ready();
        },
        on(event, listener) {
          return client.on(event as ClientEvent, listener as never);
        },
        ready: () => client.ready(),
        // A test double uploads nothing.
        insightsStats: () => ({ flushed: 0, dropped: 0 }),
        close: () => void client.close(),
      };
      return web;
    },
  };
  return client as unknown as TestClient<F>;
}
