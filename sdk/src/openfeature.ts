/**
 * `@switchyard/sdk/openfeature`: a server-side OpenFeature provider over a Switchyard client.
 * Evaluation is the client's (so the one evaluator); this layer maps contexts, error codes and events.
 */
import {
  ErrorCode,
  GeneralError,
  OpenFeatureEventEmitter,
  ProviderEvents,
  ProviderFatalError,
  type EvaluationContext as OpenFeatureContext,
  type JsonValue as OpenFeatureJson,
  type Provider,
  type ResolutionDetails,
  type TrackingEventDetails,
} from '@openfeature/server-sdk';
import { createClient, type SwitchyardClient } from './client.js';
import { SDK_VERSION, withEvaluationInsights } from './insights.js';
import { guardMetrics } from './metrics.js';
import type { ClientOptions } from './options.js';
import type { ContextValue, EvaluationContext, EvaluationErrorCode, JsonValue } from './types.js';

export interface SwitchyardProviderOptions {
  /** How long `initialize()` waits for the first rule set before failing (default 10 000 ms). */
  initTimeoutMs?: number;
}

export const DEFAULT_INIT_TIMEOUT_MS = 10_000;

/** How the provider reports itself to the server ("connected SDKs"). */
export const OPENFEATURE_SDK = Object.freeze({ name: 'switchyard-openfeature', version: SDK_VERSION });

/** Guard metrics unless `metrics` is given, wrapped in evaluation insights unless `insights: false`. */
function providerMetrics(options: ClientOptions): ClientOptions['metrics'] {
  const metrics = 'metrics' in options ? options.metrics : guardMetrics;
  return options.insights === false ? metrics : withEvaluationInsights(metrics, OPENFEATURE_SDK);
}

const ERROR_CODES: Record<EvaluationErrorCode, ErrorCode> = {
  FLAG_NOT_FOUND: ErrorCode.FLAG_NOT_FOUND,
  TYPE_MISMATCH: ErrorCode.TYPE_MISMATCH,
  PARSE_ERROR: ErrorCode.PARSE_ERROR,
  TARGETING_KEY_MISSING: ErrorCode.TARGETING_KEY_MISSING,
  GENERAL: ErrorCode.GENERAL,
};

/** Attribute paths up to this many names (`a.b.c`) are kept, as remote evaluation (OFREP) accepts; deeper objects are dropped. */
const MAX_DEPTH = 8;

function toContextValue(value: unknown, depth: number): ContextValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  if (Array.isArray(value)) {
    return value.filter((v): v is string | number | boolean => typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)));
  }
  if (typeof value !== 'object' || depth >= MAX_DEPTH) return undefined;
  // Nested objects: clauses address them with a dot path (`company.plan`).
  const nested: Record<string, ContextValue> = {};
  for (const key of Object.keys(value)) {
    const item = toContextValue((value as Record<string, unknown>)[key], depth + 1);
    if (item !== undefined) nested[key] = item;
  }
  return nested;
}

/**
 * OpenFeature context → Switchyard context: a non-empty `targetingKey` becomes `userId` and wins
 * over a `userId` attribute (remote evaluation applies the same rule); `targetingKey: ""` is no key.
 */
export function toSwitchyardContext(context: OpenFeatureContext): EvaluationContext {
  const result: EvaluationContext = {};
  for (const key of Object.keys(context)) {
    if (key === 'targetingKey') continue;
    const value = toContextValue(context[key], 1);
    if (value !== undefined) result[key] = value;
  }
  if (typeof context.targetingKey === 'string' && context.targetingKey !== '') result.userId = context.targetingKey;
  return result;
}

/**
 * An OpenFeature server provider for Switchyard. Pass a client, or client options to let the
 * provider create (and own) one, with guarded-rollout metrics on (`metrics: undefined` turns them off)
 * and evaluation insights on (`insights: false` turns them off).
 * `onClose` closes the client either way.
 *
 * Error codes: `PROVIDER_NOT_READY` until a first rule set is loaded; `FLAG_NOT_FOUND`;
 * `TYPE_MISMATCH` when the flag's value type differs from the requested one; `PARSE_ERROR` for a
 * malformed flag; `TARGETING_KEY_MISSING` (from the evaluator) only when the answer depended on a
 * bucketing key the context lacks — the evaluation reached a percentage rollout and the context has
 * no value (or "") for its bucket-by attribute (`targetingKey`/`userId` by default). Off flags, targeted rules and 0%/100%
 * stages need no key and resolve normally without one.
 * @example
 * await OpenFeature.setProviderAndWait(new SwitchyardProvider({ url, sdkKey }));
 * const on = await OpenFeature.getClient().getBooleanValue('new_checkout_flow', false, { targetingKey: user.id });
 */
export class SwitchyardProvider implements Provider {
  readonly metadata = { name: 'switchyard' } as const;
  readonly runsOn = 'server' as const;
  readonly events = new OpenFeatureEventEmitter();
  readonly client: SwitchyardClient;
  private readonly initTimeoutMs: number;
  private initializing = false;
  private initFailed = false;
  private unauthorized = false;

  constructor(clientOrOptions: SwitchyardClient | ClientOptions, options: SwitchyardProviderOptions = {}) {
    this.client = 'isEnabled' in clientOrOptions ? clientOrOptions : createClient({ ...clientOrOptions, metrics: providerMetrics(clientOrOptions) });
    this.initTimeoutMs = options.initTimeoutMs ?? DEFAULT_INIT_TIMEOUT_MS;
    this.client.on('ready', () => {
      // After a failed initialize, this is what moves the provider from ERROR to READY.
      if (this.initFailed) this.events.emit(ProviderEvents.Ready, { message: 'rules loaded' });
      this.initFailed = false;
    });
    this.client.on('change', (keys) => this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: [...keys] }));
    this.client.on('stale', ({ reason }) => this.events.emit(ProviderEvents.Stale, { message: reason }));
    this.client.on('recovered', () => this.events.emit(ProviderEvents.Ready, { message: 'updates flow again' }));
    this.client.on('error', (error) => {
      if (error.code === 'UNAUTHORIZED') this.unauthorized = true;
      // Transient network errors surface as STALE; these mean something is wrong, not just slow.
      const serious = error.code === 'UNAUTHORIZED' || error.code === 'INVALID_DATA';
      if (serious && !this.initializing) this.events.emit(ProviderEvents.Error, { message: error.message });
    });
  }

  /** Waits for the first rule set; rejects after `initTimeoutMs` (the provider then reports ERROR until rules arrive). */
  async initialize(): Promise<void> {
    this.initializing = true;
    try {
      if (await this.client.ready({ timeoutMs: this.initTimeoutMs })) return;
    } finally {
      this.initializing = false;
    }
    this.initFailed = true;
    if (this.unauthorized) throw new ProviderFatalError('switchyard: the server rejected the SDK key');
    throw new GeneralError(`switchyard: no rules within ${this.initTimeoutMs} ms; serving defaults until they arrive`);
  }

  async onClose(): Promise<void> {
    await this.client.close();
  }

  /**
   * OpenFeature tracking: forwards to `client.track`, so an event (e.g. `error`, or `latency_ms`
   * with `value`) counts for the guard of every flag under a guarded rollout.
   */
  track(trackingEventName: string, context: OpenFeatureContext, trackingEventDetails: TrackingEventDetails): void {
    const value = trackingEventDetails?.value;
    this.client.track(trackingEventName, toSwitchyardContext(context ?? {}), typeof value === 'number' ? value : undefined);
  }

  async resolveBooleanEvaluation(flagKey: string, defaultValue: boolean, context: OpenFeatureContext): Promise<ResolutionDetails<boolean>> {
    return this.resolve(flagKey, defaultValue, context);
  }

  async resolveStringEvaluation(flagKey: string, defaultValue: string, context: OpenFeatureContext): Promise<ResolutionDetails<string>> {
    return this.resolve(flagKey, defaultValue, context);
  }

  async resolveNumberEvaluation(flagKey: string, defaultValue: number, context: OpenFeatureContext): Promise<ResolutionDetails<number>> {
    return this.resolve(flagKey, defaultValue, context);
  }

  async resolveObjectEvaluation<T extends OpenFeatureJson>(flagKey: string, defaultValue: T, context: OpenFeatureContext): Promise<ResolutionDetails<T>> {
    return this.resolve(flagKey, defaultValue, context);
  }

  private resolve<T>(flagKey: string, defaultValue: T, context: OpenFeatureContext): ResolutionDetails<T> {
    if (!this.client.initialized) {
      return { value: defaultValue, reason: 'ERROR', errorCode: ErrorCode.PROVIDER_NOT_READY, errorMessage: 'no rules loaded yet' };
    }
    const detail = this.client.evaluate(flagKey, toSwitchyardContext(context), defaultValue as JsonValue);
    if (detail.errorCode !== undefined) {
      return { value: defaultValue, reason: 'ERROR', errorCode: ERROR_CODES[detail.errorCode], errorMessage: detail.errorMessage ?? detail.errorCode };
    }
    const result: ResolutionDetails<T> = { value: detail.value as T, reason: detail.reason };
    if (detail.variant !== undefined) result.variant = detail.variant;
    if (detail.ruleId !== undefined) result.flagMetadata = { ruleId: detail.ruleId };
    return result;
  }
}
