/**
 * Evaluation insights: what SDKs report about their evaluations (see sdk/src/insights.ts), as the
 * server keeps it — hourly counts per environment, flag and variation; the last time each flag was
 * evaluated in each environment; and which SDKs (name, version) use each key.
 */

export const HOUR_MS = 60 * 60_000;
/** Hourly counts are kept this long (pruned by the leader's hourly maintenance). */
export const EVALUATION_RETENTION_MS = 30 * 24 * HOUR_MS;
/** An SDK not seen for this long drops off the connected SDKs. */
export const CONNECTION_RETENTION_MS = 30 * 24 * HOUR_MS;
/** The most hours one insights request may ask for (the retention). */
export const MAX_INSIGHT_HOURS = EVALUATION_RETENTION_MS / HOUR_MS;

/** The start of the hour `at` falls in (UTC). */
export const hourOf = (at: number): number => Math.floor(at / HOUR_MS) * HOUR_MS;

/** One flag variation's evaluations in an upload (de-duplicated before it reaches a repository). */
export interface EvaluationCount {
  flagKey: string;
  variation: string;
  count: number;
}

export interface HourlyCount {
  hour: number;
  variation: string;
  count: number;
}

export interface LastEvaluated {
  flagKey: string;
  environment: string;
  at: number;
}

/** An SDK seen using a key: what the last upload with that name and version said. */
export interface SdkConnection {
  keyId: number;
  keyName: string;
  environment: string;
  sdk: string;
  version: string;
  firstSeenAt: number;
  lastSeenAt: number;
}

/** A flag's hours in one environment, oldest first, every hour of the window present (zeros included). */
export interface FlagInsights {
  environment: string;
  lastEvaluatedAt: number | null;
  hours: { hour: number; total: number; variations: Record<string, number> }[];
}

/** Counts added up per flag variation: ON CONFLICT may touch a row once per statement. */
export function mergeCounts(counts: readonly EvaluationCount[]): EvaluationCount[] {
  const merged = new Map<string, EvaluationCount>();
  for (const c of counts) {
    const id = JSON.stringify([c.flagKey, c.variation]);
    const seen = merged.get(id);
    if (seen) seen.count += c.count;
    else merged.set(id, { ...c });
  }
  return [...merged.values()];
}

/** `hours` hours ending with the current one, oldest first, with the counts that fall in them. */
export function hourlySeries(rows: readonly HourlyCount[], now: number, hours: number): FlagInsights['hours'] {
  const last = hourOf(now);
  const first = last - (hours - 1) * HOUR_MS;
  // Null-prototype records: a variation named like an Object.prototype member stays a plain key.
  const series = Array.from({ length: hours }, (_, i) => ({ hour: first + i * HOUR_MS, total: 0, variations: Object.create(null) as Record<string, number> }));
  for (const row of rows) {
    const slot = series[(row.hour - first) / HOUR_MS];
    if (!slot) continue;
    slot.total += row.count;
    slot.variations[row.variation] = (slot.variations[row.variation] ?? 0) + row.count;
  }
  return series;
}
