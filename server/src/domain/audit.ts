/**
 * The audit log: who changed what, when, from where — written in the same transaction as the
 * change itself, so the log never disagrees with the data.
 */

// `mcp`: `switchyard mcp`, the MCP server coding agents use (it sends X-Switchyard-Source: mcp).
export const AUDIT_SOURCES = ['api', 'cli', 'dashboard', 'gitops', 'release-guard', 'system', 'scheduler', 'mcp'] as const;
export type AuditSource = (typeof AUDIT_SOURCES)[number];
export const AUDIT_RESOURCES = ['flag', 'segment', 'environment', 'api_token', 'sdk_key', 'webhook', 'schedule', 'change_request'] as const;
export type AuditResource = (typeof AUDIT_RESOURCES)[number];

/** Who made a change, and why: recorded with the change in the same transaction. */
export interface AuditContext {
  actor: string;
  source: AuditSource;
  message?: string;
  commit?: string;
}

export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  action: string;
  resourceType: AuditResource;
  resourceKey: string;
  environment: string | null;
  before: unknown;
  after: unknown;
  source: AuditSource;
  message: string | null;
  commit: string | null;
}

/** What a write says about itself; the write path adds id, time, actor and source. */
export type AuditWrite = Pick<AuditEntry, 'action' | 'resourceType' | 'resourceKey' | 'environment' | 'before' | 'after'> & {
  /** Overrides the context's message for this entry (e.g. "revert of audit entry #12"). */
  message?: string;
};

/** An entry ready to be stored: everything but its id. */
export type NewAuditEntry = Omit<AuditEntry, 'id'>;

export interface AuditQuery {
  resourceType?: AuditResource;
  resourceKey?: string;
  environment?: string;
  actor?: string;
  /** Entries at or after this time (epoch ms). */
  since?: number;
  /** Entries before this time (epoch ms). */
  until?: number;
  /** Entries with an id below this cursor (newest first). */
  before?: number;
  limit: number;
}

/** Stamp writes with the context and the time, in order. */
export function auditEntries(writes: readonly AuditWrite[], ctx: AuditContext, at: number): NewAuditEntry[] {
  return writes.map(({ message, ...write }) => ({
    ...write,
    before: write.before ?? null,
    after: write.after ?? null,
    at,
    actor: ctx.actor,
    source: ctx.source,
    message: message ?? ctx.message ?? null,
    commit: ctx.commit ?? null,
  }));
}
