import { EventEmitter } from 'node:events';
import type { RuleSet } from '@switchyard/sdk';
import { compileFlag, compileRuleSet, compileSegments, type CompiledFlag } from '@switchyard/sdk/ruleset';
import type { AuditEntry, RuleSetChange, Store } from '../store/ports.js';

interface Entry {
  ruleSet: RuleSet;
  /** Compiled flags for server-side evaluation (OFREP); rebuilt lazily after a segment change. */
  compiled: Map<string, CompiledFlag> | null;
  /** Serialised snapshot, cached per version: polling and new streams send the same bytes. */
  json: { version: number; body: string } | null;
}

export interface RuleSetEvents {
  /** A patch for one environment's SDKs, after it was applied to the cached rule set. */
  change: [change: RuleSetChange];
  /** A committed write (any resource, SDK-visible or not), by its audit entry. */
  write: [audit: AuditEntry];
}

/**
 * The server's live view of every environment's rule set, kept in memory and patched by the
 * changes each write returns — so polling, streaming and OFREP never read the database per request.
 * Emits `change` with the patch after it is applied, in commit order.
 */
export class RuleSetCache extends EventEmitter<RuleSetEvents> {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Entry | undefined>>();

  constructor(private readonly store: Store) {
    super();
    this.setMaxListeners(0);
  }

  private async entry(environment: string): Promise<Entry | undefined> {
    const cached = this.entries.get(environment);
    if (cached) return cached;
    let pending = this.loading.get(environment);
    if (!pending) {
      pending = this.store.getRuleSet(environment).then((ruleSet) => {
        this.loading.delete(environment);
        if (!ruleSet) return undefined;
        // A change applied while loading is newer than what we read only if its version is higher.
        const existing = this.entries.get(environment);
        if (existing && existing.ruleSet.version >= ruleSet.version) return existing;
        const entry: Entry = { ruleSet, compiled: null, json: null };
        this.entries.set(environment, entry);
        return entry;
      });
      this.loading.set(environment, pending);
    }
    return pending;
  }

  /** The environment's current rule set (treat as read-only), or undefined if it does not exist. */
  async get(environment: string): Promise<RuleSet | undefined> {
    return (await this.entry(environment))?.ruleSet;
  }

  /** The current rule set serialised once per version. */
  async json(environment: string): Promise<{ version: number; body: string } | undefined> {
    const entry = await this.entry(environment);
    if (!entry) return undefined;
    if (entry.json?.version !== entry.ruleSet.version) {
      entry.json = { version: entry.ruleSet.version, body: JSON.stringify(entry.ruleSet) };
    }
    return entry.json;
  }

  /** Compiled flags for evaluation, or undefined if the environment does not exist. */
  async compiled(environment: string): Promise<{ ruleSet: RuleSet; flags: Map<string, CompiledFlag> } | undefined> {
    const entry = await this.entry(environment);
    if (!entry) return undefined;
    entry.compiled ??= compileRuleSet(entry.ruleSet);
    return { ruleSet: entry.ruleSet, flags: entry.compiled };
  }

  /** The compiled flags when the environment is loaded and compiled already (the OFREP fast path), else undefined. */
  compiledNow(environment: string): Map<string, CompiledFlag> | undefined {
    return this.entries.get(environment)?.compiled ?? undefined;
  }

  /** Publish a committed write: apply its patches, then announce its audit entries. */
  publish(write: { changes: readonly RuleSetChange[]; audit: AuditEntry | readonly AuditEntry[] }): void {
    this.apply(write.changes);
    const entries = Array.isArray(write.audit) ? write.audit : [write.audit as AuditEntry];
    for (const entry of entries) this.emit('write', entry);
  }

  /** Apply the patches a committed write produced, then tell subscribers. */
  apply(changes: readonly RuleSetChange[]): void {
    for (const change of changes) {
      const entry = this.entries.get(change.environment);
      if (entry && change.version > entry.ruleSet.version) {
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
            if (flag) entry.compiled.set(key, compileFlag(flag, (segments ??= compileSegments(ruleSet.segments))));
            else entry.compiled.delete(key);
          }
        }
        if (segmentsChanged) entry.compiled = null;
        entry.json = null;
      }
      this.emit('change', change);
    }
  }

  /** Forget an environment (deleted): the next read reloads it from the store. */
  forget(environment: string): void {
    this.entries.delete(environment);
  }
}
