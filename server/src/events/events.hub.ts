import type { RuleSetChange } from '../store/store.js';

/** What the dashboard hears after any write: enough to know what to re-read, and who did it. */
export interface DashboardEvent {
  type: 'flag' | 'segment' | 'environment';
  key: string;
  /** The resource's new version, or null when unknown (deleted, or an environment). */
  version: number | null;
  actor: string | null;
}

export type DashboardListener = (event: DashboardEvent) => void;

/** How many recent events to remember for de-duplication (one write reaches every environment). */
const RECENT = 512;

/**
 * Fan-out of dashboard events. A single write arrives several times — once per environment's
 * rule-set change and once from the HTTP response — so events are de-duplicated by
 * (type, key, version). Events with an unknown version are always delivered: a redundant re-read
 * is cheap, a missed one is a stale screen.
 */
export class DashboardEvents {
  private readonly listeners = new Set<DashboardListener>();
  private readonly recent = new Set<string>();

  subscribe(listener: DashboardListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get size(): number {
    return this.listeners.size;
  }

  publish(event: DashboardEvent): boolean {
    if (event.version !== null) {
      const id = `${event.type}:${event.key}:${event.version}`;
      if (this.recent.has(id)) return false;
      this.recent.add(id);
      if (this.recent.size > RECENT) this.recent.delete(this.recent.values().next().value!);
    }
    for (const listener of this.listeners) listener(event);
    return true;
  }
}

/** The flags and segments a rule-set change touched, with their new versions (null: removed). */
export function changedResources(change: RuleSetChange): Array<Pick<DashboardEvent, 'type' | 'key' | 'version'>> {
  const out: Array<Pick<DashboardEvent, 'type' | 'key' | 'version'>> = [];
  for (const [key, flag] of Object.entries(change.flags)) out.push({ type: 'flag', key, version: flag?.version ?? null });
  for (const [key, segment] of Object.entries(change.segments)) out.push({ type: 'segment', key, version: segment?.version ?? null });
  return out;
}

const ROUTES: Array<{ pattern: RegExp; type: DashboardEvent['type'] }> = [
  { pattern: /^\/api\/flags(?:\/:key)?(?:\/|$)/, type: 'flag' },
  { pattern: /^\/api\/segments(?:\/:key)?$/, type: 'segment' },
  { pattern: /^\/api\/environments(?:\/:environment)?$/, type: 'environment' },
];

/**
 * Which resource a successful write request changed, from its route and params — this catches
 * changes SDKs never see (a description, a tag, an environment's name) and so make no rule-set change.
 */
export function resourceOfRequest(
  routeUrl: string | undefined,
  params: Record<string, unknown>,
  body: unknown,
): Pick<DashboardEvent, 'type' | 'key'> | null {
  if (!routeUrl) return null;
  for (const { pattern, type } of ROUTES) {
    if (!pattern.test(routeUrl)) continue;
    const fromParams = params.key ?? params.environment;
    const fromBody = typeof body === 'object' && body !== null ? (body as { key?: unknown }).key : undefined;
    const key = typeof fromParams === 'string' ? fromParams : typeof fromBody === 'string' ? fromBody : null;
    return key === null ? null : { type, key };
  }
  return null;
}
