import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { z } from 'zod';

/**
 * Configuration is read here and only here: the environment, overridden by CLI flags, validated
 * with zod into a frozen object. A bad value stops the server with a message naming it.
 */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** proxy-addr's names for address ranges (Fastify's `trustProxy` accepts them in a list). */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isProxyAddress(entry: string): boolean {
  if (PROXY_RANGE_NAMES.has(entry)) return true;
  const [address, bits, ...rest] = entry.split('/');
  const version = isIP(address ?? '');
  if (version === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128);
}

/**
 * Which peers may speak for the client through `X-Forwarded-For` / `X-Forwarded-Proto`: `false`
 * (nobody: the headers are ignored), `true` (any peer: only when nothing reaches the server except
 * through the proxy) or a comma-separated list of addresses and CIDR ranges. No hop counts: a hop
 * count cannot tell the proxy from a client that connects directly and forges the headers (Fastify
 * 5 refuses them for that reason).
 */
const trustProxySchema = z
  .union([z.boolean(), z.string()])
  .transform((value, ctx): boolean | string[] => {
    if (typeof value === 'boolean') return value;
    const text = value.trim().toLowerCase();
    if (text === 'true') return true;
    if (text === 'false') return false;
    if (/^\d+$/.test(text)) {
      ctx.addIssue({ code: 'custom', message: `hop counts are not accepted (a client connecting directly could forge the headers); list the proxy's addresses or ranges, e.g. 10.0.0.0/8,loopback` });
      return z.NEVER;
    }
    const entries = text.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
    const bad = entries.filter((entry) => !isProxyAddress(entry));
    if (entries.length === 0 || bad.length > 0) {
      ctx.addIssue({ code: 'custom', message: `must be true, false, or a comma-separated list of IP addresses, CIDR ranges, loopback, linklocal or uniquelocal${bad.length > 0 ? ` (not an address: ${bad.join(', ')})` : ''}` });
      return z.NEVER;
    }
    return entries;
  });

const configSchema = z.strictObject({
  port: z.coerce.number().int().min(0).max(65535),
  host: z.string().min(1),
  dataDir: z.string().min(1),
  adminToken: z
    .string()
    .min(24, 'must be at least 24 characters (use a random secret)')
    .max(256)
    .optional(),
  logLevel: z.enum(LOG_LEVELS),
  heartbeatMs: z.coerce.number().int().min(10).max(300_000),
  syncPath: z.string().min(1).optional(),
  /**
   * Sync mode into environments with an approval policy: the reason the sync may write there anyway
   * (the branch is protected), recorded in every audit entry it writes there. Without it, the sync
   * refuses such changes.
   */
  syncBypassApprovals: z.string().trim().min(1).max(500).optional(),
  /** How often the leader's release runner looks at running plans. */
  releaseTickMs: z.coerce.number().int().min(50).max(600_000),
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\/\S+$/, 'must be a PostgreSQL URL such as postgres://user:password@host:5432/switchyard')
    .optional(),
  /** Open SDK streams one SDK key may hold on this replica; beyond it, 429 with Retry-After. */
  maxStreamsPerKey: z.coerce.number().int().min(1).max(1_000_000),
  /** Open OFREP notification streams of client keys one client address (IPv6: /64) may hold on this replica. */
  maxStreamsPerAddress: z.coerce.number().int().min(1).max(1_000_000),
  /** Open dashboard live-update streams (`/api/events`) per API token or dashboard session, per replica. */
  maxDashboardStreams: z.coerce.number().int().min(1).max(10_000),
  /** Failed authentications (bad token, key or sign-in) one client IP may make per minute before 429s. */
  authFailuresPerMinute: z.coerce.number().int().min(1).max(1_000_000),
  /** SDK metrics uploads per SDK key and minute, over all replicas; beyond it, 429 with Retry-After. */
  metricsUploadsPerMinute: z.coerce.number().int().min(1).max(1_000_000),
  trustProxy: trustProxySchema,
  /** Flag lifecycle (domain/lifecycle.ts): days a never-evaluated flag counts as new, at 100% everywhere before launched, idle or launched before stale. */
  lifecycleNewDays: z.coerce.number().int().min(0).max(3650),
  lifecycleLaunchedDays: z.coerce.number().int().min(0).max(3650),
  lifecycleStaleDays: z.coerce.number().int().min(1).max(3650),
});

export type Config = Readonly<z.infer<typeof configSchema>>;

export const DEFAULT_CONFIG: Config = Object.freeze({
  port: 4242,
  host: '127.0.0.1',
  dataDir: './data',
  logLevel: 'info',
  heartbeatMs: 15_000,
  releaseTickMs: 5_000,
  // One server-side SDK key is shared by every process of an application (one stream each): 1,000
  // per replica is a large fleet, and bounds what one key can hold at ~15 MB of stream buffers.
  maxStreamsPerKey: 1_000,
  // Client keys are public, shared by every visitor of an app: their streams count per address
  // instead — an office or a carrier NAT with 1,000 open tabs, ~15 MB of stream buffers.
  maxStreamsPerAddress: 1_000,
  // A person's tabs: a browser opens at most 6 HTTP/1.1 connections per host anyway.
  maxDashboardStreams: 10,
  authFailuresPerMinute: 30,
  // 100 SDK instances sharing a key at the SDK's 5 s flush interval (see releases.service.ts).
  metricsUploadsPerMinute: 1200,
  trustProxy: false,
  lifecycleNewDays: 7,
  lifecycleLaunchedDays: 7,
  lifecycleStaleDays: 30,
});

export class ConfigError extends Error {}

const FLAG_TO_FIELD = {
  port: 'port',
  host: 'host',
  'data-dir': 'dataDir',
  'log-level': 'logLevel',
  'heartbeat-ms': 'heartbeatMs',
  sync: 'syncPath',
  'sync-bypass-approvals': 'syncBypassApprovals',
  'database-url': 'databaseUrl',
  'release-tick-ms': 'releaseTickMs',
  'max-streams-per-key': 'maxStreamsPerKey',
  'max-streams-per-address': 'maxStreamsPerAddress',
  'max-dashboard-streams': 'maxDashboardStreams',
  'auth-failures-per-minute': 'authFailuresPerMinute',
  'metrics-uploads-per-minute': 'metricsUploadsPerMinute',
  'trust-proxy': 'trustProxy',
  'lifecycle-new-days': 'lifecycleNewDays',
  'lifecycle-launched-days': 'lifecycleLaunchedDays',
  'lifecycle-stale-days': 'lifecycleStaleDays',
} as const;

const ENV_TO_FIELD = {
  PORT: 'port',
  HOST: 'host',
  SWITCHYARD_DATA_DIR: 'dataDir',
  SWITCHYARD_ADMIN_TOKEN: 'adminToken',
  LOG_LEVEL: 'logLevel',
  SWITCHYARD_HEARTBEAT_MS: 'heartbeatMs',
  SWITCHYARD_SYNC: 'syncPath',
  SWITCHYARD_SYNC_BYPASS_APPROVALS: 'syncBypassApprovals',
  SWITCHYARD_DATABASE_URL: 'databaseUrl',
  SWITCHYARD_RELEASE_TICK_MS: 'releaseTickMs',
  SWITCHYARD_MAX_STREAMS_PER_KEY: 'maxStreamsPerKey',
  SWITCHYARD_MAX_STREAMS_PER_ADDRESS: 'maxStreamsPerAddress',
  SWITCHYARD_MAX_DASHBOARD_STREAMS: 'maxDashboardStreams',
  SWITCHYARD_AUTH_FAILURES_PER_MINUTE: 'authFailuresPerMinute',
  SWITCHYARD_METRICS_UPLOADS_PER_MINUTE: 'metricsUploadsPerMinute',
  SWITCHYARD_TRUST_PROXY: 'trustProxy',
  SWITCHYARD_LIFECYCLE_NEW_DAYS: 'lifecycleNewDays',
  SWITCHYARD_LIFECYCLE_LAUNCHED_DAYS: 'lifecycleLaunchedDays',
  SWITCHYARD_LIFECYCLE_STALE_DAYS: 'lifecycleStaleDays',
} as const;

const ENV_NAME_OF_FIELD: Record<string, string> = Object.fromEntries(
  Object.entries(ENV_TO_FIELD).map(([env, field]) => [field, env]),
);

/** Parse `serve` arguments and the environment. Throws ConfigError naming the bad setting. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): Config {
  let flags: Record<string, string | undefined>;
  try {
    flags = parseArgs({
      args: [...argv],
      options: Object.fromEntries(Object.keys(FLAG_TO_FIELD).map((name) => [name, { type: 'string' as const }])),
      allowPositionals: false,
      strict: true,
    }).values as Record<string, string | undefined>;
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const raw: Record<string, unknown> = { ...DEFAULT_CONFIG };
  const nameOf: Record<string, string> = { ...ENV_NAME_OF_FIELD };
  for (const [name, field] of Object.entries(ENV_TO_FIELD)) {
    const value = env[name];
    if (value !== undefined && value !== '') raw[field] = value;
  }
  for (const [flag, field] of Object.entries(FLAG_TO_FIELD)) {
    const value = flags[flag];
    if (value !== undefined) {
      raw[field] = value;
      nameOf[field] = `--${flag}`;
    }
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const field = String(issue.path[0] ?? '');
      return `${nameOf[field] ?? field}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  return Object.freeze(parsed.data);
}
