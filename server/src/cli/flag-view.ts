import { BUCKETS } from '@switchyard/sdk';
import { DOGFOOD_RULE_ID } from '../domain/stages.js';
import type { FlagView } from './command.js';
import { formatFields, formatStages, formatTable, formatTime, formatValue, plural } from './output.js';

type EnvironmentConfig = FlagView['environments'][string];

/** The flags list: key, name, tags and the stage in each environment (or only `env`). */
export function formatFlagList(flags: readonly FlagView[], env?: string): string {
  const showArchived = flags.some((f) => f.archived);
  // Like ARCHIVED, only when it tells something: most installations have no client-visible flag.
  const showClient = flags.some((f) => f.clientVisible);
  const columns = [
    { header: 'KEY' },
    { header: 'NAME', maxWidth: 40 },
    { header: 'TAGS', maxWidth: 30 },
    ...(showArchived ? [{ header: 'ARCHIVED' }] : []),
    ...(showClient ? [{ header: 'CLIENT' }] : []),
    { header: env === undefined ? 'STAGES' : `STAGE (${env})` },
  ];
  const rows = flags.map((flag) => [
    flag.key,
    flag.name,
    flag.tags.join(','),
    ...(showArchived ? [flag.archived ? 'yes' : 'no'] : []),
    ...(showClient ? [flag.clientVisible ? 'visible' : '-'] : []),
    env === undefined ? formatStages(Object.entries(flag.environments).map(([e, config]) => [e, stageText(config)])) : stageText(flag.environments[env]),
  ]);
  return formatTable(columns, rows);
}

/**
 * The stage, and for `custom` what it is: `10%`, `custom (dogfood + 1 rule)`. With `killedFrom`, a
 * kill says where it was: `kill (was 100%)`. A server from before `stageSummary` gives the bare stage.
 */
export function stageText(config: EnvironmentConfig | undefined, missing = '-', killedFrom = false): string {
  if (!config) return missing;
  const { stage, stageSummary } = config;
  if (stageSummary === undefined) return stage;
  if (stage === 'custom') return `custom (${stageSummary})`;
  if (stage === 'kill' && killedFrom) return stageSummary.replace(/^killed /, 'kill ');
  return stage;
}

/** `flags get`: the flag's metadata, then one line per environment. */
export function formatFlag(flag: FlagView): string {
  const variations = flag.variations.map((v) => `${v.key} = ${formatValue(v.value)}`).join(', ');
  const fields: [string, string][] = [
    ['Key', flag.key],
    ['Name', flag.name],
    ['Type', flag.type],
    ['Variations', variations],
    ['Description', flag.description || '-'],
    ['Tags', flag.tags.join(', ') || '-'],
    ['Owner', flag.owner || '-'],
    ['Archived', flag.archived ? 'yes' : 'no'],
    ['Client keys', flag.clientVisible ? 'visible (browsers and mobile apps get its evaluated value)' : 'hidden'],
    ['Version', `${flag.version} (updated ${formatTime(flag.updatedAt)} by ${flag.updatedBy})`],
    ['Created', formatTime(flag.createdAt)],
  ];
  const rows = Object.entries(flag.environments).map(([env, config]) => [
    env,
    stageText(config, '-', true),
    describeServing(config),
    String(config.rules.length),
    String(config.targets.reduce((sum, t) => sum + t.values.length, 0)),
  ]);
  return `${formatFields(fields)}\n${formatTable(['ENVIRONMENT', 'STAGE', 'SERVING', 'RULES', 'TARGETS'], rows)}${formatPrerequisites(flag)}${formatIncidents(flag)}`;
}

/** One line per environment whose targeting applies only once other flags serve given variations. */
function formatPrerequisites(flag: FlagView): string {
  return Object.entries(flag.environments)
    .flatMap(([env, config]) => {
      const prerequisites = config.prerequisites ?? [];
      if (prerequisites.length === 0) return [];
      return [`prerequisites in ${env}: ${prerequisites.map((p) => `${p.flag} serves ${p.variation}`).join(', ')} (else it serves ${config.offVariation})\n`];
    })
    .join('');
}

/**
 * One line per environment where an incident kill holds a Git-managed flag: the sync leaves it
 * killed there, so whoever reads the flag learns why the file's stage does not apply, and the way out.
 */
function formatIncidents(flag: FlagView): string {
  return Object.entries(flag.environments)
    .flatMap(([env, config]) => {
      const incident = config.incident;
      if (!incident) return [];
      const why = incident.message ? ` (${JSON.stringify(incident.message)})` : '';
      return [
        `incident hold in ${env}: killed by ${incident.killedBy} at ${formatTime(incident.killedAt)}${why}; Git changes to this flag there are held until: switchyard flags resume ${flag.key} ${env}\n`,
      ];
    })
    .join('');
}

/** What the environment serves: the dogfood rule (internal users) if any, then everyone else. */
export function describeServing(config: EnvironmentConfig): string {
  if (!config.on) return `${config.offVariation} (${config.killed ? 'killed' : 'off'})`;
  const dogfood = config.rules.find((r) => r.id === DOGFOOD_RULE_ID);
  const internal = dogfood && 'variation' in dogfood.serve ? `internal: ${dogfood.serve.variation}; ` : '';
  const serve = config.defaultServe;
  if ('variation' in serve) return `${internal}${internal ? 'others' : 'everyone'}: ${serve.variation}`;
  const shares = serve.rollout.variations
    .filter((v) => v.weight > 0)
    .map((v) => `${v.variation} ${formatShare(v.weight)}`)
    .join(' / ');
  return `${internal}${internal ? 'others' : 'everyone'}: ${shares}`;
}

/** Weights are in 1/100000, so 0.001% steps are expressible. */
export function formatShare(weight: number): string {
  return `${Number(((weight * 100) / BUCKETS).toFixed(3))}%`;
}

/** One line after a stage change: `new-checkout in production: off → 10% (version 3)`. */
export function formatStageChange(before: FlagView, after: FlagView, env: string): string {
  const from = stageText(before.environments[env], '?');
  const to = stageText(after.environments[env], '?');
  const config = after.environments[env];
  const serving = config ? `; serving ${describeServing(config)}` : '';
  return `${after.key} in ${env}: ${from} → ${to}${serving} (version ${after.version})\n`;
}

export function formatCreated(flag: FlagView): string {
  const envs = Object.keys(flag.environments);
  return (
    `Created flag ${flag.key} (${flag.type}, ${plural(flag.variations.length, 'variation')}); it is off in every environment` +
    `${flag.clientVisible ? ' and visible to client keys' : ''}.\n` +
    (envs.length > 0 ? `Next: switchyard flags stage ${flag.key} ${envs[0]} dogfood\n` : '')
  );
}
