import type { FeedEntry, FeedWrite } from '../domain/feed.js';

/** What the dashboard hears after any write: enough to know what to re-read, and who did it. */
export interface DashboardEvent {
  type: 'flag' | 'segment' | 'environment';
  key: string;
  /**
   * For a flag: the one environment whose configuration (stage, targeting, release plan) changed,
   * or null when the change may touch the whole flag (name, tags, archived; created, deleted,
   * reverted, applied from Git). With the key, enough to redraw one row of the list
   * (`GET /api/flag-summaries/{key}`). For an environment: its key; for a segment: null.
   */
  environment: string | null;
  /** The resource's new version, or null when unknown (deleted, or an environment). */
  version: number | null;
  actor: string | null;
}

export type DashboardListener = (event: DashboardEvent) => void;

/**
 * Fan-out of dashboard events: one per committed write, whoever made it (API, CLI, GitOps…) and on
 * whichever replica — they come from the change feed.
 */
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

  onEntry(entry: FeedEntry): void {
    if (this.listeners.size === 0) return;
    for (const write of entry.writes) {
      const event = eventOfWrite(write);
      if (event) this.publish(event);
    }
  }
}

const DASHBOARD_RESOURCES = new Set(['flag', 'segment', 'environment']);

/** The dashboard event for a write; null for resources the pages do not show. */
export function eventOfWrite(write: FeedWrite): DashboardEvent | null {
  if (!DASHBOARD_RESOURCES.has(write.resourceType)) return null;
  return { type: write.resourceType as DashboardEvent['type'], key: write.resourceKey, environment: write.environment, version: write.version, actor: write.actor };
}

