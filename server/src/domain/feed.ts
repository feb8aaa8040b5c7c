import type { FlagConfig, Segment as RuleSetSegment } from '@switchyard/sdk';
import type { AuditEntry } from './audit.js';
import type { Revocation } from './credentials.js';

/**
 * The change feed: every committed change, in commit order, numbered without gaps. It is how every
 * replica learns of every change — rule-set caches, SDK streams, OFREP, dashboard live events and
 * revocations all follow it — so a replica never depends on having made the write itself.
 */

/** What one environment's SDKs must apply: the flags and segments that changed (null: deleted). */
export interface SdkPatch {
  flags: Record<string, FlagConfig | null>;
  segments: Record<string, RuleSetSegment | null>;
}

/** One audit entry of the change, summarised: enough for a dashboard to know what to re-read. */
export interface FeedWrite {
  auditId: number;
  resourceType: AuditEntry['resourceType'];
  resourceKey: string;
  action: string;
  actor: string;
  source: AuditEntry['source'];
  environment: string | null;
  /** The resource's version after the change (null: deleted, or not versioned). */
  version: number | null;
}

export interface FeedEntry {
  /** The feed position: gap-free and in commit order. SSE event ids and rule-set versions are positions. */
  seq: number;
  at: number;
  writes: FeedWrite[];
  /**
   * Per environment, the patch its SDKs apply. `null` means the environment itself appeared or
   * went away: caches reload it rather than patch it.
   */
  sdk: Record<string, SdkPatch | null>;
  revoked: Revocation[];
  /** Webhook deliveries were queued in this change: dispatchers should look. */
  deliveries: boolean;
}

export type NewFeedEntry = Omit<FeedEntry, 'seq'>;

/** A patch addressed to one environment at one feed position: what a stream sends (`id:` = version). */
export interface RuleSetChange extends SdkPatch {
  environment: string;
  version: number;
}

/** The summary of a stored audit entry for the feed. */
export function feedWrite(entry: AuditEntry): FeedWrite {
  const after = entry.after as { version?: unknown } | null;
  const versioned = entry.resourceType === 'flag' || entry.resourceType === 'segment';
  return {
    auditId: entry.id,
    resourceType: entry.resourceType,
    resourceKey: entry.resourceKey,
    action: entry.action,
    actor: entry.actor,
    source: entry.source,
    environment: entry.environment,
    version: versioned && typeof after?.version === 'number' ? after.version : null,
  };
}

/** The SDK-visible changes of an entry, one per environment (reloads excluded). */
export function ruleSetChanges(entry: FeedEntry): RuleSetChange[] {
  const changes: RuleSetChange[] = [];
  for (const [environment, patch] of Object.entries(entry.sdk)) {
    if (patch) changes.push({ environment, version: entry.seq, flags: patch.flags, segments: patch.segments });
  }
  return changes;
}
