import type { ClientEvaluation, ClientEvent, ClientEvents, ContextInput, SwitchyardClient, Widen } from './client-api.js';
import { Emitter, type Listener } from './emitter.js';
import { SwitchyardError } from './errors.js';
import { evaluateCompiled, type CompiledFlag, type EvaluationDetail } from './evaluate.js';
import { MetricsRecorder, type MetricsStats } from './metrics.js';
import { DEFAULTS, resolveOptions, type ClientOptions, type ResolvedOptions } from './options.js';
import { isRuleSet, RuleStore, type ApplyOutcome } from './store.js';
import { Delivery } from './transport/delivery.js';
import type { EvaluationContext, JsonValue, RuleSet } from './types.js';

export type { ClientEvaluation, ClientEvent, ClientEvents, ContextInput, SwitchyardClient, Widen } from './client-api.js';

type ValueKind = 'boolean' | 'string' | 'number' | 'object';

function kindOf(value: unknown): ValueKind | undefined {
  if (value === null || typeof value === 'object') return 'object';
  const type = typeof value;
  return type === 'boolean' || type === 'string' || type === 'number' ? type : undefined;
}

const EMPTY_CONTEXT: EvaluationContext = Object.freeze({});

interface Waiter {
  resolve(ready: boolean): void;
  timer: unknown;
}

class Client implements SwitchyardClient {
  readonly #config: ClientOptions;
  readonly #store = new RuleStore();
  readonly #events: Emitter<ClientEvents>;
  readonly #delivery: Delivery;
  readonly #options: ResolvedOptions;
  /** Reused for string user IDs: evaluation is synchronous, so one object serves every call. */
  readonly #scratch: { userId: string } = { userId: '' };
  readonly #waiters = new Set<Waiter>();
  readonly #metrics: MetricsRecorder;
  /** Guarded flags of the current rules, rebuilt when the compiled map is replaced. */
  #guardedFrom: ReadonlyMap<string, CompiledFlag> | undefined;
  #guarded: CompiledFlag[] = [];
  #closed = false;
  #unauthorized = false;
  #cachePending = false;
  #saving: Promise<void> | undefined;
  #saveAgain = false;
  #readyQueued = false;
  #readyEmitted = false;

  constructor(config: ClientOptions) {
    this.#config = config;
    this.#options = resolveOptions(config);
    const { logger } = this.#options;
    this.#events = new Emitter((error) => logger.error('an event listener threw', error));
    const { baseUrl, sdkKey, fetch, clock, random, flushIntervalMs, maxMetricKeys } = this.#options;
    this.#metrics = new MetricsRecorder({ baseUrl, sdkKey, fetch, clock, random, logger, flushIntervalMs, maxKeys: maxMetricKeys, maxAttempts: DEFAULTS.metricsMaxAttempts });
    this.#delivery = new Delivery(this.#options, {
      version: () => this.#store.version,
      onSnapshot: (ruleSet, authoritative) => this.#updated(this.#store.applySnapshot(ruleSet, 'server', authoritative), true),
      onPatch: (patch) => {
        const outcome = this.#store.applyPatch(patch);
        if (!outcome.applied && outcome.reason === 'no-rules') throw new Error('a patch arrived before any snapshot');
        this.#updated(outcome, true);
      },
      onError: (error) => this.#failed(error),
      onStale: (reason) => this.#events.emit('stale', { reason }),
      onRecovered: () => this.#events.emit('recovered'),
    });
    if (config.bootstrap !== undefined) this.#loadProvisional(config.bootstrap, 'bootstrap');
    if (config.cache !== undefined) this.#loadCache();
    this.#delivery.start();
  }

  get initialized(): boolean {
    return this.#store.ruleSet !== undefined;
  }

  get version(): number | undefined {
    return this.#store.version;
  }

  ready(options: { timeoutMs?: number } = {}): Promise<boolean> {
    if (this.initialized) return Promise.resolve(true);
    if (this.#closed || this.#hopeless()) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: Waiter = { resolve, timer: undefined };
      const timeoutMs = options.timeoutMs;
      if (typeof timeoutMs === 'number' && Number.isFinite(timeoutMs)) {
        waiter.timer = this.#options.clock.setTimeout(() => {
          this.#waiters.delete(waiter);
          resolve(false);
        }, Math.max(0, timeoutMs));
      }
      this.#waiters.add(waiter);
    });
  }

  isEnabled(flag: string, userIdOrContext?: ContextInput, defaultValue = false): boolean {
    const fallback = defaultValue === true;
    if (typeof flag !== 'string') return fallback;
    const compiled = this.#store.flags.get(flag);
    if (compiled === undefined) return fallback;
    try {
      const detail = evaluateCompiled(compiled, this.#contextOf(userIdOrContext));
      // One property read for flags without a guarded rollout: the hot path stays allocation-free.
      if (compiled.config.guarded === true && detail.variant !== undefined) this.#metrics.exposure(flag, detail.variant);
      const value = detail.value;
      return typeof value === 'boolean' ? value : fallback;
    } catch {
      return fallback;
    }
  }

  variation<T extends JsonValue>(flag: string, context: ContextInput | undefined, defaultValue: T): Widen<T> {
    return this.evaluate(flag, context, defaultValue).value;
  }

  evaluate<T extends JsonValue>(flag: string, context: ContextInput | undefined, defaultValue: T): ClientEvaluation<Widen<T>> {
    const fallback = defaultValue as Widen<T>;
    const compiled = typeof flag === 'string' ? this.#store.flags.get(flag) : undefined;
    if (compiled === undefined) {
      const errorMessage = typeof flag === 'string' ? `flag ${flag} not found` : 'the flag key is not a string';
      return { value: fallback, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND', errorMessage };
    }
    let detail: EvaluationDetail;
    try {
      detail = evaluateCompiled(compiled, this.#contextOf(context));
    } catch (error) {
      const errorMessage = error instanceof Error ? error.message : 'evaluation failed';
      return { value: fallback, reason: 'ERROR', errorCode: 'GENERAL', errorMessage };
    }
    if (detail.errorCode !== undefined) return { ...detail, value: fallback };
    if (compiled.config.guarded === true && detail.variant !== undefined) this.#metrics.exposure(compiled.key, detail.variant);
    const expected = kindOf(defaultValue);
    const actual = kindOf(detail.value);
    if (defaultValue !== undefined && expected !== actual) {
      const errorMessage = `flag ${flag} serves a ${actual ?? 'unknown'} value, the default is a ${expected ?? 'unknown'}`;
      return { value: fallback, reason: 'ERROR', errorCode: 'TYPE_MISMATCH', errorMessage };
    }
    return detail as ClientEvaluation<Widen<T>>; // shared and frozen: no allocation on the happy path
  }

  allFlags(context?: ContextInput): Record<string, JsonValue> {
    const values: Record<string, JsonValue> = {};
    for (const [key, compiled] of this.#store.flags) {
      try {
        const detail = evaluateCompiled(compiled, this.#contextOf(context));
        if (detail.errorCode === undefined) values[key] = detail.value;
      } catch {
        // a context whose attributes throw on access: leave the flag out
      }
    }
    return values;
  }

  getRuleSet(): RuleSet | undefined {
    return this.#store.ruleSet;
  }

  track(eventName: string, userIdOrContext?: ContextInput, value?: number): void {
    if (typeof eventName !== 'string' || eventName === '' || this.#closed) return;
    const amount = typeof value === 'number' && Number.isFinite(value) ? value : undefined;
    for (const compiled of this.#guardedFlags()) {
      try {
        // Deterministic re-evaluation: the variation this user is served, no per-user state kept.
        const detail = evaluateCompiled(compiled, this.#contextOf(userIdOrContext));
        if (detail.variant !== undefined && detail.errorCode === undefined) this.#metrics.event(eventName, compiled.key, detail.variant, amount);
      } catch {
        // a context whose attributes throw on access: nothing to attribute
      }
    }
  }

  flush(): Promise<void> {
    return this.#metrics.flush();
  }

  metricsStats(): MetricsStats {
    return this.#metrics.stats();
  }

  #guardedFlags(): readonly CompiledFlag[] {
    const flags = this.#store.flags;
    if (flags !== this.#guardedFrom) {
      this.#guardedFrom = flags;
      this.#guarded = [...flags.values()].filter((f) => f.config.guarded === true);
    }
    return this.#guarded;
  }

  on<E extends ClientEvent>(event: E, listener: Listener<ClientEvents[E]>): () => void {
    return this.#events.on(event, listener);
  }

  once<E extends ClientEvent>(event: E, listener: Listener<ClientEvents[E]>): () => void {
    return this.#events.once(event, listener);
  }

  off<E extends ClientEvent>(event: E, listener: Listener<ClientEvents[E]>): void {
    this.#events.off(event, listener);
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#delivery.close();
      this.#settleWaiters(false);
      this.#events.removeAll();
    }
    await Promise.all([this.#saving, this.#metrics.close()]);
  }

  #contextOf(input: unknown): EvaluationContext {
    if (typeof input === 'string') {
      this.#scratch.userId = input;
      return this.#scratch;
    }
    if (typeof input === 'object' && input !== null) return input as EvaluationContext;
    if (typeof input === 'number' && Number.isFinite(input)) {
      this.#scratch.userId = String(input);
      return this.#scratch;
    }
    return EMPTY_CONTEXT;
  }

  #hopeless(): boolean {
    return this.#unauthorized && !this.#cachePending && !this.initialized;
  }

  #settleWaiters(ready: boolean): void {
    for (const waiter of this.#waiters) {
      if (waiter.timer !== undefined) this.#options.clock.clearTimeout(waiter.timer);
      waiter.resolve(ready);
    }
    this.#waiters.clear();
  }

  #updated(outcome: ApplyOutcome, persist: boolean): void {
    if (!outcome.applied) return;
    if (persist) this.#persist();
    if (!this.#readyQueued) {
      this.#readyQueued = true;
      this.#settleWaiters(true);
      // Deferred so listeners attached right after createClient (bootstrap is synchronous) hear it.
      queueMicrotask(() => {
        this.#readyEmitted = true;
        if (!this.#closed) this.#events.emit('ready');
      });
      return;
    }
    // Changes before `ready` reached listeners are part of what `ready` announces.
    if (this.#readyEmitted && outcome.changed.length > 0) this.#events.emit('change', outcome.changed);
  }

  #failed(error: SwitchyardError): void {
    if (error.code === 'UNAUTHORIZED') this.#unauthorized = true;
    this.#events.emit('error', error);
    if (this.#hopeless()) this.#settleWaiters(false);
  }

  #loadProvisional(ruleSet: unknown, source: 'bootstrap' | 'cache'): void {
    if (!isRuleSet(ruleSet)) {
      this.#options.logger.error(`ignoring the ${source} rules: not a rule set`);
      return;
    }
    try {
      this.#updated(this.#store.applySnapshot(ruleSet, source), false);
    } catch (error) {
      this.#options.logger.error(`ignoring the ${source} rules: they do not compile`, error);
    }
  }

  #loadCache(): void {
    this.#cachePending = true;
    this.#config.cache!.load().then(
      (ruleSet) => {
        this.#cachePending = false;
        if (this.#closed) return;
        if (ruleSet !== undefined) this.#loadProvisional(ruleSet, 'cache');
        if (this.#hopeless()) this.#settleWaiters(false);
      },
      (error: unknown) => {
        this.#cachePending = false;
        this.#options.logger.warn('could not load the cached rules', error);
        if (this.#hopeless()) this.#settleWaiters(false);
      },
    );
  }

  /** Save the latest rules; saves never overlap, and a burst of updates ends with the newest saved. */
  #persist(): void {
    const cache = this.#config.cache;
    if (cache === undefined) return;
    if (this.#saving !== undefined) {
      this.#saveAgain = true;
      return;
    }
    this.#saving = (async () => {
      do {
        this.#saveAgain = false;
        try {
          await cache.save(this.#store.ruleSet!);
        } catch (cause) {
          this.#options.logger.warn('could not save the rules to the cache', cause);
          this.#events.emit('error', new SwitchyardError('CACHE', 'could not save the rules to the cache', undefined, { cause }));
        }
      } while (this.#saveAgain);
      this.#saving = undefined;
    })();
  }
}

/**
 * Create a client: it loads `bootstrap` and the cache, then streams (or polls) the server's rules
 * and evaluates flags locally. Throws a TypeError when `url` or `sdkKey` is missing.
 * @example
 * const client = createClient({ url: 'https://flags.example.com', sdkKey: process.env.SWITCHYARD_SDK_KEY! });
 * await client.ready({ timeoutMs: 5000 });
 * if (client.isEnabled('new_checkout_flow', user.id)) renderNewCheckout();
 */
export function createClient(options: ClientOptions): SwitchyardClient {
  return new Client(options);
}
