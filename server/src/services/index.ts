import type { Database } from '../store/ports.js';
import { ChangeRequestsService } from './change-requests/change-requests.service.js';
import { CodeRefsService } from './code-refs.service.js';
import { LifecycleService, type LastEvaluatedSource } from './lifecycle.service.js';
import type { LifecycleThresholds } from '../domain/lifecycle.js';
import { CredentialsService } from './credentials.service.js';
import { DashboardEvents } from './dashboard-events.js';
import { EnvironmentsService } from './environments.service.js';
import { EvaluationsService } from './evaluations.service.js';
import { FeedFollower } from './feed.js';
import { FlagsService } from './flags.service.js';
import { GitOpsService } from './gitops/gitops.service.js';
import { GitOpsSync } from './gitops/sync.js';
import { Maintenance } from './maintenance.js';
import { SILENT, type Logger } from './logger.js';
import { ReleasesService } from './releases/releases.service.js';
import { ReleaseRunner } from './releases/runner.js';
import { WebhookDispatcher } from './releases/webhooks.js';
import { RuleSetCache } from './rulesets.js';
import { Scheduler } from './schedules/scheduler.js';
import { SchedulesService } from './schedules/schedules.service.js';
import { SegmentsService } from './segments.service.js';
import { StreamHub } from './stream-hub.js';
import { Writes } from './write.js';

export interface ServicesOptions {
  /** The clock for every write (tests compress time with it). */
  now?: () => number;
  log?: Logger;
  /** SSE heartbeat period. */
  heartbeatMs?: number;
  /** `serve --sync`: the Git-tracked file or directory the leader keeps the database in line with. */
  syncPath?: string;
  /** `serve --sync-bypass-approvals REASON`: the sync may change environments with an approval policy (else it refuses). */
  syncBypassApprovals?: string;
  /** Release runner tick and webhook transport (tests inject them). */
  tickMs?: number;
  fetch?: typeof fetch;
  /** Off in tests that drive the runner and the webhook dispatcher by hand. */
  background?: boolean;
  /** Change-feed safety-net poll period. */
  feedPollMs?: number;
  /** Metrics uploads per SDK key per minute (over all replicas). */
  metricsUploadsPerMinute?: number;
  /** How often the leader looks for due scheduled changes. */
  scheduleTickMs?: number;
  /** Days that move flags through their lifecycle (domain/lifecycle.ts); defaults for those left out. */
  lifecycle?: Partial<LifecycleThresholds>;
  /** Where the lifecycle reads last evaluations (tests inject them); default: the evaluations store. */
  lastEvaluated?: LastEvaluatedSource;
}

/** Every service of one replica, wired to one database. */
export interface Services {
  db: Database;
  writes: Writes;
  log: Logger;
  environments: EnvironmentsService;
  flags: FlagsService;
  segments: SegmentsService;
  credentials: CredentialsService;
  gitops: GitOpsService;
  sync: GitOpsSync | undefined;
  releases: ReleasesService;
  runner: ReleaseRunner;
  webhooks: WebhookDispatcher;
  feed: FeedFollower;
  ruleSets: RuleSetCache;
  streams: StreamHub;
  dashboard: DashboardEvents;
  maintenance: Maintenance;
  schedules: SchedulesService;
  scheduler: Scheduler;
  changeRequests: ChangeRequestsService;
  codeRefs: CodeRefsService;
  evaluations: EvaluationsService;
  lifecycle: LifecycleService;
  options: ServicesOptions;
}

export function createServices(db: Database, options: ServicesOptions = {}): Services {
  const log = options.log ?? SILENT;
  const warn = (message: string, error?: unknown) => log.warn({ err: error }, message);
  const writes = new Writes(db, options.now ?? Date.now);
  const environments = new EnvironmentsService(writes);
  const flags = new FlagsService(writes);
  const segments = new SegmentsService(writes);
  const releases = new ReleasesService(writes, flags, { metricsUploadsPerMinute: options.metricsUploadsPerMinute });
  const changeRequests = new ChangeRequestsService(writes, flags, segments, releases);
  const gitops = new GitOpsService(writes, environments, undefined, changeRequests);
  const webhooks = new WebhookDispatcher(writes, { fetch: options.fetch, log: (message) => log.warn({}, message) });
  const feed = new FeedFollower(writes, { log: warn, pollMs: options.feedPollMs });
  writes.applied = (entry) => feed.applied(entry.seq, entry);
  const ruleSets = new RuleSetCache(writes);
  const streams = new StreamHub({ heartbeatMs: options.heartbeatMs ?? 15_000 });
  const dashboard = new DashboardEvents();
  const schedules = new SchedulesService(writes, flags, changeRequests);
  // Order matters: caches are patched before anything that reads them hears of the change.
  feed.subscribe(ruleSets);
  feed.subscribe(streams);
  feed.subscribe(dashboard);
  feed.subscribe({ onEntry: (entry) => void (entry.deliveries && options.background !== false && webhooks.pump()) });
  return {
    db,
    writes,
    log,
    environments,
    flags,
    segments,
    credentials: new CredentialsService(writes),
    gitops,
    sync: options.syncPath ? new GitOpsSync({ path: options.syncPath, gitops, writes, log, bypassApprovals: options.syncBypassApprovals }) : undefined,
    releases,
    runner: new ReleaseRunner(releases, { tickMs: options.tickMs, log: warn }),
    webhooks,
    feed,
    ruleSets,
    streams,
    dashboard,
    maintenance: new Maintenance(writes, log),
    schedules,
    scheduler: new Scheduler(schedules, { tickMs: options.scheduleTickMs, log }),
    changeRequests,
    codeRefs: new CodeRefsService(writes),
    evaluations: new EvaluationsService(writes, ruleSets),
    lifecycle: new LifecycleService(writes, { thresholds: options.lifecycle, lastEvaluated: options.lastEvaluated ?? ((tx) => db.repos.evaluations.lastEvaluated(tx)) }),
    options,
  };
}

/**
 * Start this replica's background work: follow the change feed, send webhooks, and — while it is
 * the leader — run release plans and the Git sync. Without a sync path, a new leader clears the
 * Git-managed markers a former sync left behind, so flags do not stay read-only forever (and the
 * incident overrides that held killed flags against that sync: the kills themselves stay).
 */
export async function startServices(s: Services): Promise<void> {
  await s.feed.start();
  if (s.options.background === false) return;
  s.webhooks.start();
  let leading: Promise<void> = Promise.resolve();
  s.db.leadership.onChange((leader) => {
    leading = leader ? lead(s) : Promise.all([s.runner.stop(), s.sync?.stop(), s.maintenance.stop(), s.scheduler.stop()]).then(() => undefined);
    leading = leading.catch((error: unknown) => s.log.error({ err: error }, 'leader work failed to start or stop'));
  });
  await s.db.leadership.start();
  // A replica that leads from the start applies the Git file before it serves.
  await leading;
}

async function lead(s: Services): Promise<void> {
  s.runner.start();
  s.maintenance.start();
  s.scheduler.start();
  if (s.sync) await s.sync.start();
  else await releaseGitMarkers(s);
}

async function releaseGitMarkers(s: Services): Promise<void> {
  await s.db.transaction(async (tx) => {
    await s.writes.repos.flags.setManaged(tx, null, []);
    await s.writes.repos.segments.setManaged(tx, null, []);
    await s.writes.repos.incidents.clear(tx);
  });
}

/** Stop the leader's work before giving up leadership, so two leaders never overlap. */
export async function stopServices(s: Services): Promise<void> {
  s.streams.close();
  await Promise.all([s.runner.stop(), s.sync?.stop(), s.maintenance.stop(), s.scheduler.stop()]);
  await s.db.leadership.stop();
  await Promise.all([s.webhooks.stop(), s.feed.stop()]);
}
