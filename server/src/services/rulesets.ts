import { EventEmitter } from 'node:events';
import type { RuleSet } from '@switchyard/sdk';
import { compileFlag, compileRuleSet, compileSegments, type CompiledFlag } from '@switchyard/sdk/ruleset';
import type { FeedEntry, RuleSetChange } from '../domain/feed.js';
import { toRuleSet } from '../domain/ruleset.js';
import type { FeedListener } from './feed.js';
import { screenRuleSet, screenedChange } from './pattern-safety.js';
import type { Writes } from './write.js';

interface Entry {
  ruleSet: RuleSet;
  /** Compiled flags for server-side evaluation (OFREP); rebuilt lazily after a segment change. */
  compiled: Map<string, CompiledFlag> | null;
  /** Serialised snapshot, cached per version: polling and new streams send the same bytes. */
  json: { version: number; body: string } | null;
}

interface Loading {
  promise: Promise<Entry | undefined>;
  /** Changes that arrived while the snapshot was being read: applied on top if newer. */
  queued: RuleSetChange[];
}

export interface RuleSetEvents {
  /** A patch for one environment's SDKs, in feed order (after it was applied to a cached rule set). */
  change: [change: RuleSetChange];
  /** An environment (or, with null, every one) must be read again: streams cannot patch across it. */
  reload: [environment: string | null];
}

/**
 * This replica's live view of every environment's rule set, kept in memory and patched from the
 * change feed — so polling, streaming and OFREP never read the database per request, and every
 * replica serves the same versions. Loaded lazily per environment from one consistent read.
 */
export class RuleSetCache extends EventEmitter<RuleSetEvents> implements FeedListener {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Loading>();

  constructor(private readonly w: Writes) {
    super();
    this.setMaxListeners(0);
  }

  private async read(environment: string): Promise<RuleSet | undefined> {
    const { repos } = this.w;
    const ruleSet = await this.w.read(async (tx) => {
      const env = await repos.environments.get(tx, environment);
      if (!env) return undefined;
      const flags = (await repos.flags.list(tx)).map((f) => f.value);
      const segments = (await repos.segments.list(tx)).map((s) => s.value);
      return toRuleSet(environment, env.version, flags, segments);
    });
    // Patterns stored before the ReDoS check existed are analysed here; vulnerable ones are dropped.
    return ruleSet && screenRuleSet(ruleSet);
  }

  private lookup(environment: string): Promise<Entry | undefined> | Entry | undefined {
    const cached = this.entries.get(environment);
    if (cached) return cached;
    const pending = this.loading.get(environment);
    if (pending) return pending.promise;
    const loading: Loading = { promise: undefined as unknown as Promise<Entry | undefined>, queued: [] };
    loading.promise = this.read(environment).then(
      (ruleSet) => {
        // Forgotten meanwhile (a reset, or the environment went): this read may predate it.
        if (this.loading.get(environment) !== loading) return ruleSet ? { ruleSet, compiled: null, json: null } : undefined;
        this.loading.delete(environment);
        if (!ruleSet) return undefined;
        const entry: Entry = { ruleSet, compiled: null, json: null };
        this.entries.set(environment, entry);
        this.patch(entry, loading.queued);
        return entry;
      },
      (error: unknown) => {
        if (this.loading.get(environment) === loading) this.loading.delete(environment);
        throw error;
      },
    );
    this.loading.set(environment, loading);
    return loading.promise;
  }

  /** The environment's current rule set (treat as read-only), or undefined if it does not exist. */
  async get(environment: string): Promise<RuleSet | undefined> {
    return (await this.lookup(environment))?.ruleSet;
  }

  /** The current rule set serialised once per version. */
  async json(environment: string): Promise<{ version: number; body: string } | undefined> {
    const entry = await this.lookup(environment);
    if (!entry) return undefined;
    if (entry.json?.version !== entry.ruleSet.version) {
      entry.json = { version: entry.ruleSet.version, body: JSON.stringify(entry.ruleSet) };
    }
    return entry.json;
  }

  /** Compiled flags for evaluation, or undefined if the environment does not exist. */
  async compiled(environment: string): Promise<{ ruleSet: RuleSet; flags: Map<string, CompiledFlag> } | undefined> {
    const entry = await this.lookup(environment);
    if (!entry) return undefined;
    entry.compiled ??= compileRuleSet(entry.ruleSet);
    return { ruleSet: entry.ruleSet, flags: entry.compiled };
  }

  /** The compiled flags when the environment is loaded and compiled already (the OFREP fast path), else undefined. */
  compiledNow(environment: string): Map<string, CompiledFlag> | undefined {
    return this.entries.get(environment)?.compiled ?? undefined;
  }

  /** Feed: patch the cached rule sets, and pass each patch on (to the SDK streams). */
  onEntry(entry: FeedEntry): void {
    for (const [environment, patch] of Object.entries(entry.sdk)) {
      if (patch === null) {
        this.forget(environment);
        this.emit('reload', environment);
        continue;
      }
      const change: RuleSetChange = { environment, version: entry.seq, ...screenedChange({ flags: patch.flags, segments: patch.segments }) };
      const loading = this.loading.get(environment);
      if (loading) loading.queued.push(change);
      const cached = this.entries.get(environment);
      if (cached) this.patch(cached, [change]);
      this.emit('change', change);
    }
  }

  /** Feed: starting over; everything cached may be stale. */
  onReset(): void {
    this.entries.clear();
    this.loading.clear();
    this.emit('reload', null);
  }

  private patch(entry: Entry, changes: readonly RuleSetChange[]): void {
    for (const change of changes) {
      if (change.version <= entry.ruleSet.version) continue;
      const { ruleSet } = entry;
      ruleSet.version = change.version;
      const segmentsChanged = Object.keys(change.segments).length > 0;
      for (const [key, segment] of Object.entries(change.segments)) {
        if (segment) ruleSet.segments[key] = segment;
        else delete ruleSet.segments[key];
      }
      let segments: ReturnType<typeof compileSegments> | undefined;
      for (const [key, flag] of Object.entries(change.flags)) {
        if (flag) ruleSet.flags[key] = flag;
        else delete ruleSet.flags[key];
        if (entry.compiled && !segmentsChanged) {
          if (flag) entry.compiled.set(key, compileFlag(flag, (segments ??= compileSegments(ruleSet.segments)), entry.compiled));
          else entry.compiled.delete(key);
        }
      }
      if (segmentsChanged) entry.compiled = null;
      entry.json = null;
    }
  }

  /** Forget an environment (created or deleted): the next read loads it again. */
  forget(environment: string): void {
    this.entries.delete(environment);
    this.loading.delete(environment);
  }
}
