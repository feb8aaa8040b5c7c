import type { ClientEvaluation, ClientEvent, ClientEvents, ContextInput, FlagTypes, Listener, NotReadyReason, SwitchyardClient, UntypedFlags, Widen } from './client-api.js';
import type { SwitchyardError } from './errors.js';
import { FLAG_NOT_FOUND, type CompiledFlag, type EvaluationDetail } from './evaluate.js';
import { resolveOptions, type ClientOptions } from './options.js';
import { RuleStore, type ApplyOutcome } from './store.js';
import { startDelivery } from './transport/delivery.js';
import type { EvaluationContext, JsonValue } from './types.js';

export type { ClientEvaluation, ClientEvent, ClientEvents, ContextInput, FlagTypes, Listener, NotReadyReason, ReadyResult, SwitchyardClient, UntypedFlags, Widen } from './client-api.js';

/** The kind of a value as `variation` compares it with the default: JSON objects, arrays and null are one kind. */
const kindOf = (value: unknown): string => (value === null ? 'object' : typeof value);

const EMPTY_CONTEXT: EvaluationContext = {};

type AnyListener = (payload?: unknown) => void;

/**
 * Create a client: it serves `bootstrap` at once, then streams (or polls) the server's rules
 * and evaluates flags locally. Throws a TypeError when `url` or `sdkKey` is missing (unless `offline`).
 * `F`, optional and types only, is the flag map `switchyard codegen` writes: keys and defaults are
 * then checked at compile time (`createClient<Flags>(…)`).
 * @example
 * const client = createClient({ url: 'https://flags.example.com', sdkKey: process.env.SWITCHYARD_SDK_KEY! });
 * await client.ready({ timeoutMs: 5000 });
 * if (client.isEnabled('new_checkout_flow', user.id)) renderNewCheckout();
 */
export function createClient<F extends FlagTypes = UntypedFlags>(config: ClientOptions): SwitchyardClient<F> {
  const options = resolveOptions(config);
  const { clock, logger, offline } = options;
  const store = new RuleStore();
  // Offline: nothing is uploaded, so nothing is counted (and guarded flags are not warned about).
  const metrics = offline ? undefined : config.metrics?.(options);
  const listeners = new Map<ClientEvent, Set<AnyListener>>();
  /** The last failed request or update: what a `ready` that times out reports. */
  let lastError: SwitchyardError | undefined;
  /** Without a reason: ready. */
  let markReady!: (reason?: NotReadyReason) => void;
  /**
   * Settles once: undefined (ready) with the first rules; else why not — on close, when the key is
   * rejected before any rules, or offline without rules.
   */
  const readyPromise = new Promise<NotReadyReason | undefined>((resolve) => (markReady = resolve));
  /** Reused for string user IDs: evaluation is synchronous, so one object serves every call. */
  const scratch = { userId: '' };
  let warnedUnmeasured = offline;
  let closed = false;
  /** 0: no rules yet; 1: `ready` queued; 2: `ready` emitted (changes before it are part of it). */
  let readiness = 0;

  const emit = <E extends ClientEvent>(event: E, payload?: ClientEvents[E]): void => {
    for (const listener of [...(listeners.get(event) ?? [])]) {
      try {
        listener(payload);
      } catch (error) {
        logger.error('a listener threw', error);
      }
    }
  };

  /** Evaluate; undefined when the context's attributes throw on access (unless `rethrow`). */
  function run(compiled: CompiledFlag, input: unknown, rethrow?: boolean): EvaluationDetail | undefined {
    let context = EMPTY_CONTEXT;
    if (typeof input === 'object' && input !== null) context = input as EvaluationContext;
    else if (typeof input === 'string' || Number.isFinite(input)) {
      scratch.userId = String(input);
      context = scratch;
    }
    try {
      return compiled.evaluate(context);
    } catch (error) {
      if (rethrow) throw error;
      return undefined;
    }
  }

  /**
   * Evaluate a known flag (undefined for an unknown one), hand a served variation to the metrics
   * hook (evaluation insights), and count the exposure of a guarded one.
   */
  function detail(flag: string, input: unknown, rethrow?: boolean): EvaluationDetail | undefined {
    const compiled = store.flags.get(flag); // keys are strings: anything else finds nothing
    const result = compiled && run(compiled, input, rethrow);
    // A few property reads per call: the hot path stays allocation-free.
    if (result?.variant !== undefined) {
      metrics?.evaluated?.(flag, result);
      if (compiled!.config.guarded === true) {
        if (metrics) metrics.exposure(flag, result.variant);
        else if (!warnedUnmeasured) {
          warnedUnmeasured = true;
          logger.warn(`flag ${flag} is guarded: pass metrics: guardMetrics`);
        }
      }
    }
    return result;
  }

  function updated(changed: ApplyOutcome): void {
    if (!changed) return;
    if (readiness === 0) {
      readiness = 1;
      markReady();
      // Deferred so listeners attached right after createClient (bootstrap is synchronous) hear it.
      queueMicrotask(() => {
        readiness = 2;
        if (!closed) emit('ready');
      });
    } else if (readiness === 2 && changed.length) {
      emit('change', changed);
    }
  }

  const client: SwitchyardClient = {
    get initialized() {
      return store.ruleSet !== undefined;
    },

    get version() {
      return store.version;
    },

    ready(readyOptions) {
      const timeoutMs = readyOptions?.timeoutMs;
      const result =
        !Number.isFinite(timeoutMs) || store.ruleSet
          ? readyPromise
          : new Promise<NotReadyReason | undefined>((resolve) => {
              // A negative timeout fires at once (setTimeout, and the Clock contract, treat it as 0).
              const timer = clock.setTimeout(() => resolve('timeout'), timeoutMs!);
              void readyPromise.then((reason) => {
                clock.clearTimeout(timer);
                resolve(reason);
              });
            });
      return result.then((reason) => (readyOptions?.detailed ? { ready: !reason, reason, error: lastError } : !reason)) as never;
    },

    isEnabled(flag, userIdOrContext, defaultValue = false) {
      const value = detail(flag, userIdOrContext)?.value;
      return typeof value === 'boolean' ? value : defaultValue === true;
    },

    variation(flag, context, defaultValue) {
      return client.evaluate(flag, context, defaultValue).value;
    },

    evaluate<T extends JsonValue>(flag: string, context: ContextInput | undefined, defaultValue: T): ClientEvaluation<Widen<T>> {
      let result: EvaluationDetail | undefined;
      try {
        result = detail(flag, context, true);
      } catch (error) {
        return { value: defaultValue as Widen<T>, reason: 'ERROR', errorCode: 'GENERAL', errorMessage: String(error) };
      }
      result ??= FLAG_NOT_FOUND;
      if (result.errorCode !== undefined) return { ...result, value: defaultValue as Widen<T> };
      const expected = kindOf(defaultValue);
      const actual = kindOf(result.value);
      if (defaultValue !== undefined && expected !== actual) {
        return { value: defaultValue as Widen<T>, reason: 'ERROR', errorCode: 'TYPE_MISMATCH', errorMessage: `flag ${flag} serves a ${actual}, the default is a ${expected}` };
      }
      return result as ClientEvaluation<Widen<T>>; // shared and frozen: no allocation on the happy path
    },

    allFlags(context) {
      const values: Record<string, JsonValue> = {};
      for (const [key, compiled] of store.flags) {
        const result = run(compiled, context);
        if (result !== undefined && result.errorCode === undefined) values[key] = result.value;
      }
      return values;
    },

    getRuleSet: () => store.ruleSet,

    track(eventName, userIdOrContext, value) {
      if (!closed) metrics?.track(eventName, store.flags, (compiled) => run(compiled, userIdOrContext), value);
    },

    flush: async () => metrics?.flush(),

    metricsStats: () => metrics?.stats() ?? { dropped: 0, flushed: 0, failedBatches: 0 },

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
      if (!closed) {
        closed = true;
        stopDelivery();
        markReady('closed');
        listeners.clear();
      }
      await metrics?.close();
    },
  };

  if (config.bootstrap !== undefined) {
    try {
      updated(store.applySnapshot(config.bootstrap, 'bootstrap'));
    } catch (error) {
      logger.error('ignoring bootstrap', error);
    }
  }
  // Offline: no request at all; without bootstrap rules there is nothing to wait for.
  const stopDelivery = offline ? (markReady('offline'), () => {}) : startDelivery(
    options,
    () => store.version,
    (update, snapshot, opening) => updated(snapshot ? store.applySnapshot(update, 'server', opening) : store.applyPatch(update)),
    (error) => {
      lastError = error;
      logger.warn(error.message);
      emit('error', error);
      // A rejected key stops delivery: without rules by now, none will come.
      if (error.code === 'UNAUTHORIZED') markReady('unauthorized');
    },
    (reason) => (reason === undefined ? emit('recovered') : emit('stale', { reason })),
  );
  return client as unknown as SwitchyardClient<F>;
}
