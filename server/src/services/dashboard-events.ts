import type { AuditEntry } from '../store/ports.js';

/** What the dashboard hears after any write: enough to know what to re-read, and who did it. */
export interface DashboardEvent {
  type: 'flag' | 'segment' | 'environment';
  key: string;
  /** The resource's new version, or null when unknown (deleted, or an environment). */
  version: number | null;
  actor: string | null;
}

export type DashboardListener = (event: DashboardEvent) => void;

/** Fan-out of dashboard events: one per committed write, whoever made it (API, CLI, GitOps…). */
export class DashboardEvents {
  private readonly listeners = new Set<DashboardListener>();

  subscribe(listener: DashboardListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get size(): number {
    return this.listeners.size;
  }

  publish(event: DashboardEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

const DASHBOARD_RESOURCES = new Set(['flag', 'segment', 'environment']);

/** The dashboard event for a write, from its audit entry; null for resources the pages do not show. */
export function eventOfWrite(entry: AuditEntry): DashboardEvent | null {
  if (!DASHBOARD_RESOURCES.has(entry.resourceType)) return null;
  const after = entry.after as { version?: unknown } | null;
  const version = entry.resourceType !== 'environment' && typeof after?.version === 'number' ? after.version : null;
  return { type: entry.resourceType as DashboardEvent['type'], key: entry.resourceKey, version, actor: entry.actor };
}

