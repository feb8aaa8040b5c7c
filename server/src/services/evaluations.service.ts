import { AppError } from '../domain/errors.js';
import {
  CONNECTION_RETENTION_MS,
  EVALUATION_RETENTION_MS,
  HOUR_MS,
  hourlySeries,
  hourOf,
  mergeCounts,
  type EvaluationCount,
  type FlagInsights,
  type LastEvaluated,
  type SdkConnection,
} from '../domain/evaluations.js';
import type { Tx } from '../store/ports.js';
import type { RuleSetCache } from './rulesets.js';
import type { Writes } from './write.js';

/** Who uploaded: the SDK or client key the request authenticated with. */
export interface UploadSource {
  keyId: number;
  keyName: string;
  environment: string;
  /** A client key (public, in browsers): only flags visible to client keys count. */
  client: boolean;
}

export interface EvaluationUpload {
  sdk: string;
  version: string;
  evaluations: readonly { flag: string; variation: string; count: number }[];
}

/** A replica writes an SDK's last-seen time at most this often (the list shows minutes, not milliseconds). */
const CONNECTION_WRITE_MS = 60_000;
/** Connections remembered per replica for that throttle; beyond it the memory starts afresh. */
const MAX_REMEMBERED_CONNECTIONS = 10_000;

/**
 * Evaluation insights (domain/evaluations.ts). An upload is screened against the environment's
 * rules — only flags that exist there (visible to client keys, for a client key), on a variation they
 * have, count — and added in place in one transaction, so every replica may write at once. Each
 * replica also adds what it accepted to its `/metrics` counters.
 */
export class EvaluationsService {
  /** Connection → when this replica last wrote it. */
  private readonly written = new Map<string, number>();
  /** `[environment, flag, variation]` as JSON → evaluations this replica accepted (Prometheus). */
  readonly accepted = new Map<string, number>();

  constructor(
    private readonly w: Writes,
    private readonly ruleSets: RuleSetCache,
  ) {}

  async record(source: UploadSource, upload: EvaluationUpload): Promise<{ accepted: number; dropped: number }> {
    const ruleSet = await this.ruleSets.get(source.environment);
    const flags = ruleSet?.flags ?? {};
    const kept: EvaluationCount[] = [];
    for (const e of upload.evaluations) {
      const flag = Object.hasOwn(flags, e.flag) ? flags[e.flag] : undefined;
      if (!flag || (source.client && !flag.clientVisible) || !flag.variations.some((v) => v.key === e.variation)) continue;
      if (e.count > 0) kept.push({ flagKey: e.flag, variation: e.variation, count: e.count });
    }
    const counts = mergeCounts(kept);
    const now = this.w.now();
    const connection = JSON.stringify([source.keyId, upload.sdk, upload.version]);
    const touch = now - (this.written.get(connection) ?? -Infinity) >= CONNECTION_WRITE_MS;
    if (counts.length > 0 || touch) {
      await this.w.db.transaction(async (tx) => {
        await this.w.repos.evaluations.add(tx, source.environment, hourOf(now), counts, now);
        if (touch) await this.w.repos.evaluations.touchConnection(tx, { keyId: source.keyId, keyName: source.keyName, environment: source.environment, sdk: upload.sdk, version: upload.version, lastSeenAt: now });
      });
    }
    if (touch) {
      if (this.written.size >= MAX_REMEMBERED_CONNECTIONS) this.written.clear();
      this.written.set(connection, now);
    }
    for (const c of counts) {
      const id = JSON.stringify([source.environment, c.flagKey, c.variation]);
      this.accepted.set(id, (this.accepted.get(id) ?? 0) + c.count);
    }
    return { accepted: kept.length, dropped: upload.evaluations.length - kept.length };
  }

  /** A flag's evaluations per hour in one environment, the last `hours` hours (the current one included). */
  async insights(flagKey: string, environment: string, hours: number): Promise<FlagInsights> {
    return this.w.read(async (tx) => {
      if (!(await this.w.repos.flags.get(tx, flagKey))) throw AppError.notFound('flag', flagKey);
      await this.assertEnvironment(tx, environment);
      const now = this.w.now();
      const since = hourOf(now) - (hours - 1) * HOUR_MS;
      const [rows, last] = await Promise.all([this.w.repos.evaluations.hourly(tx, environment, flagKey, since), this.w.repos.evaluations.lastEvaluated(tx, environment)]);
      return { environment, lastEvaluatedAt: last.find((l) => l.flagKey === flagKey)?.at ?? null, hours: hourlySeries(rows, now, hours) };
    });
  }

  /** SDKs seen in the retention window, most recent first. */
  async connections(environment?: string): Promise<SdkConnection[]> {
    return this.w.read(async (tx) => {
      await this.assertEnvironment(tx, environment);
      return this.w.repos.evaluations.connections(tx, this.w.now() - CONNECTION_RETENTION_MS, environment);
    });
  }

  /** Last evaluations, inside the caller's transaction (flag summaries, lifecycle). */
  lastEvaluated(tx: Tx, environment?: string): Promise<LastEvaluated[]> {
    return this.w.repos.evaluations.lastEvaluated(tx, environment);
  }

  /** Forget this replica's counters of flag variations that no longer exist (bounded `/metrics` labels). */
  async forgetGone(): Promise<void> {
    const environments = new Map<string, Awaited<ReturnType<RuleSetCache['get']>>>();
    for (const id of [...this.accepted.keys()]) {
      const [environment, flag, variation] = JSON.parse(id) as [string, string, string];
      if (!environments.has(environment)) environments.set(environment, await this.ruleSets.get(environment));
      const flags = environments.get(environment)?.flags;
      const config = flags && Object.hasOwn(flags, flag) ? flags[flag] : undefined;
      if (!config?.variations.some((v) => v.key === variation)) this.accepted.delete(id);
    }
  }

  private async assertEnvironment(tx: Tx, environment: string | undefined): Promise<void> {
    if (environment !== undefined && !(await this.w.repos.environments.get(tx, environment))) {
      throw AppError.invalid('query.environment', `unknown environment "${environment}"`);
    }
  }
}

/** The maintenance loop's part: hourly counts and connections past their retention, leftovers of deleted flags. */
export async function pruneEvaluations(w: Writes, tx: Tx, now: number): Promise<void> {
  await w.repos.evaluations.prune(tx, hourOf(now) - EVALUATION_RETENTION_MS, now - CONNECTION_RETENTION_MS);
}
