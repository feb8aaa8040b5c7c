import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { LIMITS, flagTypeSchema, keySchema, tagsSchema, variationSchema } from '../../domain/flags.js';
import { parseStage } from '../../domain/stages.js';
import { path, type FlagView } from '../command.js';
import { ApiError } from '../errors.js';
import { formatStageChange } from '../flag-view.js';
import type { ApiClient } from '../http.js';
import { planCreate, planKill, planStage, type DryRun, type Role } from './plans.js';
import { fields, flagSummary, guarded, stagesOf } from './read-tools.js';
import { dataResult, errorResult } from './results.js';

/**
 * The write tools. Each takes `dryRun`: then it only reads, and answers with what the write would
 * do (or the refusal it would get) — nothing is written and nothing is audited. Real writes carry
 * `X-Switchyard-Source: mcp`, so the audit log shows they came from an agent.
 */

const dryRunField = z.boolean().default(false).describe('true: write nothing; answer with what would change (or why the server would refuse). Use it first when unsure.');
const messageField = z.string().max(LIMITS.description).optional().describe('Why, for the audit log (e.g. "ramp after a clean day, INC-1234")');

/** The stage words the server accepts, checked before any request with a hint for the likely intent. */
function stageProblem(text: string): string | null {
  if (parseStage(text) !== undefined) return null;
  const hint = /^\d{1,3}(\.\d{1,3})?$/.test(text.trim()) ? ` Did you mean "${text.trim()}%"?` : '';
  return `stage: invalid stage ${JSON.stringify(text)}: use off, dogfood, a percentage such as 10% or 0.5% (at most 3 decimals), 100%, or kill.${hint}`;
}

function dryRunResult(plan: DryRun): CallToolResult {
  if (plan.refusal !== null) return errorResult(`Dry run, nothing was written. The real call would be refused: ${plan.refusal}`);
  return dataResult(`Dry run, nothing was written.\n${plan.summary.join('\n')}`, plan.after);
}

async function roleOf(api: ApiClient): Promise<Role> {
  return (await api.request<{ name: string; role: Role }>('GET', '/api/me')).data.role;
}

/** The flag, or null when the server says it does not exist. */
async function flagOrNull(api: ApiClient, key: string): Promise<FlagView | null> {
  try {
    return (await api.request<FlagView>('GET', path.flag(key))).data;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

/** Approvals an environment's policy requires, or null when changes there are written directly. */
async function approvalsRequired(api: ApiClient, env: string): Promise<number | null> {
  const { data } = await api.request<{ required: boolean; approvals: number }>('GET', `/api/environments/${encodeURIComponent(env)}/approval-policy`);
  return data.required ? data.approvals : null;
}

interface ChangeRequestView {
  id: number;
  title: string;
  environment: string;
  status: string;
  changes: { diff: unknown[] }[];
}

export function registerWriteTools(server: McpServer, api: ApiClient): void {
  server.registerTool(
    'create_flag',
    {
      title: 'Create a feature flag',
      description:
        'Create a flag. It starts off in every environment (everyone gets its off variation); move it through stages with stage_flag. Boolean flags get variations off=false and on=true unless given; string, number and json flags need at least two variations. Needs an editor token. Audited with source mcp.',
      inputSchema: z.strictObject({
        key: keySchema.describe('The new flag\'s key: lowercase letters, digits, ".", "_" or "-", e.g. "new-checkout"; application code refers to it by this key'),
        name: z.string().min(1).max(LIMITS.name).optional().describe('Display name (default: the key)'),
        description: z.string().max(LIMITS.description).optional().describe('What the flag is for'),
        tags: tagsSchema.optional().describe('Tags, e.g. ["checkout", "q4"]'),
        owner: z.string().max(LIMITS.name).optional().describe('The team or person responsible for it'),
        type: flagTypeSchema.default('boolean').describe('The type of its values (default boolean)'),
        variations: z.array(variationSchema).min(2).max(LIMITS.variations).optional().describe('The values it can serve, e.g. [{"key":"red","value":"#f00"},{"key":"blue","value":"#00f"}]; the first is the off variation (for boolean flags, the false one)'),
        clientVisible: z.boolean().optional().describe('Browsers and mobile apps (client keys) may receive its value (default false)'),
        dryRun: dryRunField,
      }),
      annotations: { title: 'Create a feature flag', readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    ({ dryRun, ...input }) =>
      guarded(async () => {
        if (dryRun) {
          const [role, existing, environments] = await Promise.all([roleOf(api), flagOrNull(api, input.key), api.request<{ items: { key: string }[] }>('GET', '/api/environments')]);
          return dryRunResult(planCreate(input, { role, exists: existing !== null, environments: environments.data.items.map((e) => e.key) }));
        }
        const { data: flag } = await api.request<FlagView>('POST', '/api/flags', { body: input });
        const envs = Object.keys(flag.environments);
        return dataResult(`Created flag "${flag.key}" (${flag.type}, version ${flag.version}); it is off in every environment (${envs.join(', ') || 'none yet'}). Release it with stage_flag.`, flagSummary(flag));
      }),
  );

  server.registerTool(
    'stage_flag',
    {
      title: 'Move a flag to a release stage',
      description:
        'Move a flag to a release stage in one environment: off → dogfood (internal users only) → a percentage (dogfood users stay on; ramps are monotonic: whoever is inside 10% stays inside at 50%) → 100%; or kill. Only the dogfood and default rules change; other rules and individual targets stay. ' +
        'Sends the flag version it reads (or the one you give), so a concurrent change is never overwritten. In an environment with an approval policy a direct change is refused: pass changeRequest: true to open a change request instead. Needs an editor token. Audited with source mcp.',
      inputSchema: z.strictObject({
        key: fields.flagKey,
        environment: fields.environment,
        stage: z.string().min(1).max(20).describe('off | dogfood | a percentage such as 10% or 0.5% | 100% | kill'),
        variation: z.string().max(64).optional().describe('The variation to release (non-boolean flags; default: the one already released, else the first that is not the off variation)'),
        message: messageField,
        version: z.int().min(1).optional().describe('The flag version you last read (get_flag): refuse the change if the flag changed since. Default: the current version'),
        changeRequest: z.boolean().default(false).describe('true: do not write; open a change request holding this change, for reviewers to approve (environments with an approval policy)'),
        dryRun: dryRunField,
      }),
      annotations: { title: 'Move a flag to a release stage', readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    ({ key, environment, stage, variation, message, version, changeRequest, dryRun }) =>
      guarded(async () => {
        const problem = stageProblem(stage);
        if (problem) return errorResult(problem);
        if (dryRun) {
          const [role, flag, approvals] = await Promise.all([roleOf(api), api.request<FlagView>('GET', path.flag(key)), approvalsRequired(api, environment).catch(() => null)]);
          return dryRunResult(planStage(flag.data, environment, stage, variation, { role, approvalsRequired: approvals, changeRequest, expectedVersion: version ?? null }));
        }
        const { data: before } = await api.request<FlagView>('GET', path.flag(key));
        // The kill switch works from a stale read and never waits for approvals (as kill_flag).
        const kill = parseStage(stage) === 'kill';
        const body = { stage, variation, message, version: kill ? version : (version ?? before.version) };
        const query = changeRequest && !kill ? { changeRequest: 'true' } : undefined;
        const response = await api.request<FlagView | ChangeRequestView>('POST', `${path.flagEnvironment(key, environment)}/stage`, { body, query });
        if (response.status === 202) {
          const request = response.data as ChangeRequestView;
          return dataResult(
            `Opened change request #${request.id} "${request.title}" in ${request.environment} (status ${request.status}). Nothing changed yet: it applies once approved and applied (dashboard, or "switchyard requests approve ${request.id}").`,
            { id: request.id, status: request.status, environment: request.environment, diff: request.changes.flatMap((c) => c.diff) },
          );
        }
        const after = response.data as FlagView;
        return dataResult(formatStageChange(before, after, environment).trim(), { key, environment, version: after.version, stages: stagesOf(after), configuration: after.environments[environment] });
      }),
  );

  server.registerTool(
    'kill_flag',
    {
      title: 'Kill switch',
      description:
        'Turn a flag off in one environment at once, from any stage: everyone gets its off variation. For incidents: needs no version and no approval, and works on Git-managed flags too. The rules are kept: stage_flag back to the previous stage restores them. Needs an editor token. Audited with source mcp.',
      inputSchema: z.strictObject({ key: fields.flagKey, environment: fields.environment, message: messageField, dryRun: dryRunField }),
      annotations: { title: 'Kill switch', readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    ({ key, environment, message, dryRun }) =>
      guarded(async () => {
        if (dryRun) {
          const [role, flag] = await Promise.all([roleOf(api), api.request<FlagView>('GET', path.flag(key))]);
          return dryRunResult(planKill(flag.data, environment, role));
        }
        const { data: flag } = await api.request<FlagView>('POST', `${path.flagEnvironment(key, environment)}/kill`, { body: { message } });
        const config = flag.environments[environment];
        const restore = config?.killedFrom && config.killedFrom !== 'off' ? ` To restore it: stage_flag with stage "${config.killedFrom}".` : '';
        return dataResult(`Killed "${key}" in ${environment}: everyone gets "${config?.offVariation ?? 'off'}" (version ${flag.version}).${restore}`, { key, environment, version: flag.version, stages: stagesOf(flag), configuration: config });
      }),
  );
}
