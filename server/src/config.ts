import { parseArgs } from 'node:util';
import { z } from 'zod';

/**
 * Configuration is read here and only here: the environment, overridden by CLI flags, validated
 * with zod into a frozen object. A bad value stops the server with a message naming it.
 */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

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
  /** How often the leader's release runner looks at running plans. */
  releaseTickMs: z.coerce.number().int().min(50).max(600_000),
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\/\S+$/, 'must be a PostgreSQL URL such as postgres://user:password@host:5432/switchyard')
    .optional(),
});

export type Config = Readonly<z.infer<typeof configSchema>>;

export const DEFAULT_CONFIG: Config = Object.freeze({
  port: 4242,
  host: '127.0.0.1',
  dataDir: './data',
  logLevel: 'info',
  heartbeatMs: 15_000,
  releaseTickMs: 5_000,
});

export class ConfigError extends Error {}

const FLAG_TO_FIELD = {
  port: 'port',
  host: 'host',
  'data-dir': 'dataDir',
  'log-level': 'logLevel',
  'heartbeat-ms': 'heartbeatMs',
  sync: 'syncPath',
  'database-url': 'databaseUrl',
  'release-tick-ms': 'releaseTickMs',
} as const;

const ENV_TO_FIELD = {
  PORT: 'port',
  HOST: 'host',
  SWITCHYARD_DATA_DIR: 'dataDir',
  SWITCHYARD_ADMIN_TOKEN: 'adminToken',
  LOG_LEVEL: 'logLevel',
  SWITCHYARD_HEARTBEAT_MS: 'heartbeatMs',
  SWITCHYARD_SYNC: 'syncPath',
  SWITCHYARD_DATABASE_URL: 'databaseUrl',
  SWITCHYARD_RELEASE_TICK_MS: 'releaseTickMs',
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
