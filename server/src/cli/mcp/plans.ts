import { BOOLEAN_VARIATIONS, defaultFlagEnvironment } from '../../domain/flag-defaults.js';
import { variationProblems } from '../../domain/flag-validation.js';
import type { Flag, FlagEnvironment } from '../../domain/flags.js';
import { applyStage, describeTargeting, parseStage, releaseVariation, type ReleaseStage } from '../../domain/stages.js';
import type { FlagView } from '../command.js';
import { describeServing, stageText } from '../flag-view.js';
import { formatValue, plural } from '../output.js';

/**
 * Dry runs of the MCP server's writes. The server has no dry-run for creating, staging or killing
 * a flag, so these compute what it would do with the very domain functions it runs
 * (`applyStage`, `defaultFlagEnvironment`, `variationProblems`) on what the API returned, and name
 * the refusal the real call would get. Pure: the tools fetch the inputs.
 */

export type Role = 'viewer' | 'editor' | 'admin';
type EnvironmentView = FlagView['environments'][string];

export interface DryRun {
  /** What the write would do, one sentence a line. */
  summary: string[];
  /** The error the real call would get now, or null when it would succeed. */
  refusal: string | null;
  /** The resource (or the environment's configuration) as it would be afterwards; null when refused. */
  after: unknown;
}

/** Writes need the editor role; the server says so with 403, and so does the dry run. */
function roleRefusal(role: Role, what: string): string | null {
  return role === 'viewer' ? `${what} needs the editor role; this API token is a viewer token (403 forbidden). Use an editor or admin token.` : null;
}

const refused = (refusal: string): DryRun => ({ summary: [], refusal, after: null });

/** A configuration with the derived fields the API adds (stage, summary), as `describeServing` reads it. */
export function withStage(config: FlagEnvironment): EnvironmentView {
  const { stage, summary, killedFrom } = describeTargeting(config);
  return { ...config, stage, stageSummary: summary, killedFrom };
}

export interface CreateInput {
  key: string;
  name?: string | undefined;
  description?: string | undefined;
  tags?: string[] | undefined;
  owner?: string | undefined;
  type: Flag['type'];
  variations?: Flag['variations'] | undefined;
  clientVisible?: boolean | undefined;
}

/** `create_flag` with `dryRun`: the flag as the server would create it (off everywhere), or why it would refuse. */
export function planCreate(input: CreateInput, facts: { role: Role; exists: boolean; environments: readonly string[] }): DryRun {
  const denied = roleRefusal(facts.role, 'creating a flag');
  if (denied) return refused(denied);
  const variations = input.variations ?? (input.type === 'boolean' ? BOOLEAN_VARIATIONS : undefined);
  if (!variations) return refused(`variations: a ${input.type} flag needs its variations (at least two {key, value})`);
  const problems = variationProblems({ type: input.type, variations }, 'variations');
  if (problems.length > 0) return refused(problems.map((p) => `${p.path}: ${p.message}`).join('; '));
  if (facts.exists) return refused(`flag "${input.key}" already exists (409 conflict); pick another key or change the existing flag`);
  const environments = Object.fromEntries(facts.environments.map((env) => [env, withStage(defaultFlagEnvironment(input.key, variations, input.type))]));
  const after = {
    key: input.key,
    name: input.name ?? input.key,
    description: input.description ?? '',
    tags: [...new Set(input.tags ?? [])],
    owner: input.owner ?? '',
    type: input.type,
    variations,
    archived: false,
    clientVisible: input.clientVisible ?? false,
    environments,
  };
  const off = Object.values(environments)[0]?.offVariation;
  return {
    summary: [
      `Would create flag "${input.key}" (${input.type}; variations ${variations.map((v) => `${v.key} = ${formatValue(v.value)}`).join(', ')}).`,
      facts.environments.length > 0
        ? `It would be off in every environment (${facts.environments.join(', ')}), serving "${off}" to everyone.`
        : 'There are no environments yet: it would have no configuration anywhere.',
      after.clientVisible ? 'Client keys (browsers, mobile apps) would receive its value.' : 'Client keys (browsers, mobile apps) would not see it.',
    ],
    refusal: null,
    after,
  };
}

export interface StageFacts {
  role: Role;
  /** The environment's approval policy, when one requires approvals. */
  approvalsRequired: number | null;
  /** Propose a change request instead of writing. */
  changeRequest: boolean;
  /** The version the caller expects (null: whatever is current). */
  expectedVersion: number | null;
}

function environmentRefusal(flag: FlagView, env: string): string | null {
  if (Object.hasOwn(flag.environments, env)) return null;
  return `environment "${env}" not found (404); flag "${flag.key}" has environments: ${Object.keys(flag.environments).join(', ') || 'none'}`;
}

/** `stage_flag` with `dryRun`: the stage change (or the change request) the server would make, in the order it checks. */
export function planStage(flag: FlagView, env: string, stageInput: string, variation: string | undefined, facts: StageFacts): DryRun {
  const stage = parseStage(stageInput);
  if (!stage) return refused(`stage: unknown stage "${stageInput}": use off, dogfood, kill, or a percentage such as 10% or 0.5% (at most 3 decimals)`);
  if (stage === 'kill') return planKill(flag, env, facts.role);
  const denied = roleRefusal(facts.role, 'changing a stage');
  if (denied) return refused(denied);
  const missing = environmentRefusal(flag, env);
  if (missing) return refused(missing);
  if (facts.approvalsRequired !== null && !facts.changeRequest) return refused(approvalText(flag.key, env, stage, facts.approvalsRequired));
  if (flag.managedBy && !facts.changeRequest) return refused(`flag "${flag.key}" is managed by Git (${flag.managedBy}) (423 locked); change it there and commit`);
  if (facts.expectedVersion !== null && facts.expectedVersion !== flag.version) {
    return refused(`flag "${flag.key}" is at version ${flag.version}, not ${facts.expectedVersion} (409 version_conflict): it changed since you read it; read it again (get_flag)`);
  }
  const change = stageChange(flag, env, stage, variation);
  if ('refusal' in change) return refused(change.refusal);
  const before = flag.environments[env]!;
  const movement = `"${flag.key}" in ${env}: ${stageText(before, '?', true)} → ${stageText(change.after, '?', true)}`;
  const serving = `Serving: ${describeServing(before)} → ${describeServing(change.after)}.`;
  if (facts.changeRequest) {
    const needs = facts.approvalsRequired === null ? 'no approval policy applies here, so it could be applied at once' : `it needs ${plural(facts.approvalsRequired, 'approval')}`;
    return { summary: [`Would open a change request to move ${movement} (${needs}); nothing changes until it is approved and applied.`, serving], refusal: null, after: change.after };
  }
  const same = JSON.stringify(before.defaultServe) === JSON.stringify(change.after.defaultServe) && JSON.stringify(before.rules) === JSON.stringify(change.after.rules) && before.on === change.after.on;
  return { summary: [`Would move ${movement}${same ? ' (already there: the targeting would not change)' : ''}.`, serving], refusal: null, after: change.after };
}

/** The targeting after the stage change, with the server's own checks on the variation to release. */
function stageChange(flag: FlagView, env: string, stage: ReleaseStage, variation: string | undefined): { after: EnvironmentView } | { refusal: string } {
  const current = flag.environments[env]!;
  // releaseVariation reads only the flag's type and variations, which the API returns as stored.
  const release = releaseVariation({ type: flag.type, variations: flag.variations } as Flag, current, variation);
  if (release === undefined) return { refusal: 'variation: this flag has no variation to release; name one in "variation"' };
  if (!flag.variations.some((v) => v.key === release)) return { refusal: `variation: unknown variation "${release}"; the flag has ${flag.variations.map((v) => v.key).join(', ')}` };
  if (release === current.offVariation && stage !== 'off' && stage !== 'kill') return { refusal: `variation: "${release}" is the off variation; releasing it would change nothing` };
  return { after: withStage(applyStage(current, stage, release)) };
}

/** `kill_flag` with `dryRun`: everyone gets the off variation; no approval or version needed. */
export function planKill(flag: FlagView, env: string, role: Role): DryRun {
  const denied = roleRefusal(role, 'the kill switch');
  if (denied) return refused(denied);
  const missing = environmentRefusal(flag, env);
  if (missing) return refused(missing);
  const before = flag.environments[env]!;
  const release = releaseVariation({ type: flag.type, variations: flag.variations } as Flag, before, undefined) ?? before.offVariation;
  const after = withStage(applyStage(before, 'kill', release));
  const already = before.killed ? ' It is already killed: nothing would change for users.' : '';
  const git = flag.managedBy ? ` The flag is managed by Git (${flag.managedBy}): the kill would hold it killed here through syncs until resumed.` : '';
  return {
    summary: [
      `Would kill "${flag.key}" in ${env}: ${stageText(before, '?', true)} → kill; everyone would get "${before.offVariation}" at once.${already}`,
      `Serving: ${describeServing(before)} → ${describeServing(after)}. The kill keeps the rules: moving back to a stage restores them.${git}`,
    ],
    refusal: null,
    after,
  };
}

/** What to tell an agent that hit an approval policy: the server's rule, and how to go on from here. */
export function approvalText(key: string, env: string, stage: string, approvals: number): string {
  return (
    `moving flag "${key}" to ${stage} in ${env} needs ${plural(approvals, 'approval')} (409 approval_required): ${env} has an approval policy. ` +
    `Call stage_flag again with changeRequest: true to open a change request that reviewers approve (dashboard or "switchyard requests approve"); ` +
    'the kill switch (kill_flag) always works directly.'
  );
}
