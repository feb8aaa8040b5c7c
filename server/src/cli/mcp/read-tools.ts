import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { EvaluationContext, RuleSet } from '@switchyard/sdk';
import { compileRuleSet, evaluateCompiled, toFlagConfig, toRuleSetSegment } from '@switchyard/sdk/ruleset';
import { z } from 'zod';
import { AUDIT_RESOURCES } from '../../domain/audit.js';
import { LIMITS } from '../../domain/flags.js';
import { path, type AuditEntryView, type EnvironmentView, type FlagView } from '../command.js';
import { ApiError } from '../errors.js';
import { stageText } from '../flag-view.js';
import type { ApiClient } from '../http.js';
import { dataResult, errorResult, toolError } from './results.js';

/** Input fields several tools share, described once so every tool explains them the same way. */
export const fields = {
  flagKey: z.string().min(1).max(LIMITS.key).describe('The flag key, e.g. "new-checkout" (list_flags shows them)'),
  environment: z.string().min(1).max(LIMITS.key).describe('The environment key, e.g. "production" (list_environments shows them)'),
};

/** A segment as the API returns it, as far as rule sets need it. */
type SegmentView = Parameters<typeof toRuleSetSegment>[0];

const READ_ONLY = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;

/** Run a tool body; whatever it throws becomes a tool error with the server's message (and `nextSteps`' advice, see toolError). */
export async function guarded(run: () => Promise<CallToolResult>, nextSteps?: Partial<Record<string, string>>): Promise<CallToolResult> {
  try {
    return await run();
  } catch (error) {
    return toolError(error, nextSteps);
  }
}

/** The stage in each environment, as words: `{ production: "10%", staging: "custom (dogfood + 1 rule)" }`. */
export function stagesOf(flag: FlagView): Record<string, string> {
  return Object.fromEntries(Object.entries(flag.environments).map(([env, config]) => [env, stageText(config, '-', true)]));
}

/** A flag in a list: enough to choose one, without every rule. Fields newer servers add (lifecycle, lastEvaluatedAt) pass through. */
export function flagSummary(flag: FlagView): Record<string, unknown> {
  const extra = flag as FlagView & { lifecycle?: unknown; lastEvaluatedAt?: unknown };
  return {
    key: flag.key,
    name: flag.name,
    type: flag.type,
    ...(flag.description ? { description: flag.description.length > 200 ? `${flag.description.slice(0, 199)}…` : flag.description } : {}),
    tags: flag.tags,
    ...(flag.owner ? { owner: flag.owner } : {}),
    ...(flag.archived ? { archived: true } : {}),
    ...(flag.managedBy ? { managedBy: flag.managedBy } : {}),
    ...(extra.lifecycle !== undefined ? { lifecycle: extra.lifecycle } : {}),
    ...(extra.lastEvaluatedAt !== undefined ? { lastEvaluatedAt: extra.lastEvaluatedAt } : {}),
    stages: stagesOf(flag),
  };
}

/**
 * What an environment's SDKs would get for one context: the SDK's own evaluator on the rule set
 * those SDKs receive, built with the SDK's own mapping (as the dashboard's preview does). The whole
 * rule set, not the one flag, so anything that looks at other flags evaluates as in an SDK.
 */
export function evaluateLikeSdk(flags: readonly FlagView[], segments: readonly SegmentView[], key: string, environment: string, context: EvaluationContext) {
  const ruleSet: Pick<RuleSet, 'flags' | 'segments'> = { flags: {}, segments: {} };
  for (const flag of flags) {
    const config = toFlagConfig(flag, environment);
    if (config) ruleSet.flags[flag.key] = config;
  }
  for (const segment of segments) ruleSet.segments[segment.key] = toRuleSetSegment(segment);
  return evaluateCompiled(compileRuleSet(ruleSet).get(key), context);
}

/** A context attribute: what the SDK's clauses compare (nested objects are addressed as `company.plan`). */
const contextValue = z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.union([z.string(), z.number(), z.boolean()])), z.record(z.string(), z.unknown())]);

export function registerReadTools(server: McpServer, api: ApiClient): void {
  server.registerTool(
    'list_flags',
    {
      title: 'List feature flags',
      description:
        'List Switchyard feature flags with their release stage in every environment (off, dogfood, N%, 100%, kill, or custom with a short description). Filters combine. Use get_flag for one flag\'s full targeting.',
      inputSchema: z.strictObject({
        search: z.string().max(LIMITS.name).optional().describe('Only flags whose key, name or description contains this text (case-insensitive)'),
        tag: z.string().max(LIMITS.tag).optional().describe('Only flags with this tag'),
        stage: z.string().max(20).optional().describe('Only flags at this stage: off, dogfood, kill, 100%, custom, or "rollout" for any partial percentage; with environment, in that environment'),
        environment: fields.environment.optional().describe('With stage: the environment whose stage to filter on'),
        archived: z.enum(['false', 'true', 'all']).default('false').describe('"false" (default): live flags only; "true": archived only; "all": both'),
        limit: z.int().min(1).max(500).default(100).describe('At most this many flags in the answer (default 100)'),
      }),
      annotations: { title: 'List feature flags', ...READ_ONLY },
    },
    ({ search, tag, stage, environment, archived, limit }) =>
      guarded(async () => {
        const { data } = await api.request<{ items: FlagView[] }>('GET', '/api/flags', { query: { q: search, tag, stage, environment, archived } });
        const shown = data.items.slice(0, limit);
        const more = data.items.length > shown.length ? ` (showing the first ${shown.length}; narrow with search, tag or stage)` : '';
        return dataResult(`${data.items.length} flag${data.items.length === 1 ? '' : 's'}${more}.`, shown.map(flagSummary));
      }),
  );

  server.registerTool(
    'get_flag',
    {
      title: 'Read a feature flag',
      description:
        "Read one flag: metadata, variations, version, and its configuration in each environment (on/killed, off variation, individual targets, ordered rules, default rule, salt) with the derived stage. Pass environment to get only that environment's configuration. The version is what stage_flag's version parameter expects.",
      inputSchema: z.strictObject({ key: fields.flagKey, environment: fields.environment.optional().describe('Only this environment\'s configuration') }),
      annotations: { title: 'Read a feature flag', ...READ_ONLY },
    },
    ({ key, environment }) =>
      guarded(async () => {
        const { data: flag } = await api.request<FlagView>('GET', path.flag(key));
        const stages = Object.entries(stagesOf(flag)).map(([env, stage]) => `${env}: ${stage}`).join(', ');
        const headline = `Flag "${flag.key}" (${flag.type}, version ${flag.version}${flag.archived ? ', archived' : ''}${flag.managedBy ? `, managed by Git in ${flag.managedBy}` : ''}). Stages: ${stages || 'no environments'}.`;
        if (environment === undefined) return dataResult(headline, flag);
        if (!Object.hasOwn(flag.environments, environment)) return errorResult(`environment "${environment}" not found; flag "${key}" has environments: ${Object.keys(flag.environments).join(', ')}`);
        return dataResult(headline, { ...flag, environments: { [environment]: flag.environments[environment] } });
      }),
  );

  server.registerTool(
    'list_environments',
    {
      title: 'List environments',
      description: 'List the environments (e.g. development, staging, production) with whether changes there need an approved change request (approval policy). Stage changes in such an environment need stage_flag with changeRequest: true.',
      inputSchema: z.strictObject({}),
      annotations: { title: 'List environments', ...READ_ONLY },
    },
    () =>
      guarded(async () => {
        const [environments, policies] = await Promise.all([
          api.request<{ items: EnvironmentView[] }>('GET', '/api/environments'),
          api.request<{ items: { environment: string; required: boolean; approvals: number }[] }>('GET', '/api/approval-policies'),
        ]);
        const items = environments.data.items.map((e) => {
          const policy = policies.data.items.find((p) => p.environment === e.key && p.required);
          return { key: e.key, name: e.name, critical: e.critical, approvalRequired: policy !== undefined, ...(policy ? { approvals: policy.approvals } : {}) };
        });
        return dataResult(`${items.length} environment${items.length === 1 ? '' : 's'}.`, items);
      }),
  );

  server.registerTool(
    'evaluate_flag',
    {
      title: 'Evaluate a flag for a context',
      description:
        "What a user (an evaluation context) gets from a flag in an environment: the value, the variation and the reason (DISABLED, TARGETING_MATCH, SPLIT, STATIC, ERROR…). Computed by the SDK's own evaluator on the rule set that environment's SDKs receive, like the dashboard's preview: the answer is what the application would see. Archived flags are not served: the application gets its default (reason ERROR, FLAG_NOT_FOUND).",
      inputSchema: z.strictObject({
        key: fields.flagKey,
        environment: fields.environment,
        context: z
          .record(z.string().max(LIMITS.attribute), contextValue)
          .default({})
          .describe('The evaluation context: attributes such as { "userId": "user-42", "email": "a@example.com", "plan": "pro", "company": { "size": 120 } }. Rollouts bucket by userId unless the flag says otherwise.'),
      }),
      annotations: { title: 'Evaluate a flag for a context', ...READ_ONLY },
    },
    ({ key, environment, context }) =>
      guarded(async () => {
        // The flag itself first: an unknown flag or environment gets the server's own 404 message.
        const { data: flag } = await api.request<FlagView>('GET', path.flag(key));
        if (!Object.hasOwn(flag.environments, environment)) return errorResult(`environment "${environment}" not found; flag "${key}" has environments: ${Object.keys(flag.environments).join(', ')}`);
        const [flags, segments] = await Promise.all([api.request<{ items: FlagView[] }>('GET', '/api/flags'), api.request<{ items: SegmentView[] }>('GET', '/api/segments')]);
        const others = flags.data.items.filter((f) => f.key !== key);
        const result = evaluateLikeSdk([flag, ...others], segments.data.items, key, environment, context as EvaluationContext);
        const variation = result.variant === undefined ? '' : ` (variation "${result.variant}")`;
        const headline = `"${key}" in ${environment} for this context: ${JSON.stringify(result.value ?? null)}${variation}, reason ${result.reason}${result.errorCode ? ` (${result.errorCode})` : ''}.`;
        return dataResult(headline, { flag: key, environment, context, value: result.value ?? null, variation: result.variant ?? null, reason: result.reason, ...(result.errorCode ? { errorCode: result.errorCode } : {}) });
      }),
  );

  server.registerTool(
    'list_audit_entries',
    {
      title: 'Read the audit log',
      description:
        'Who changed what, when, from where (source: dashboard, cli, api, gitops, mcp…), newest first, each with a one-line summary. Filter by flag, environment, actor or time; page with before (the nextCursor of the previous answer).',
      inputSchema: z.strictObject({
        flag: fields.flagKey.optional().describe('Only entries about this flag'),
        resourceType: z.enum(AUDIT_RESOURCES).optional().describe('Only entries about this kind of resource (ignored with flag)'),
        environment: fields.environment.optional().describe('Only entries about this environment'),
        actor: z.string().max(LIMITS.name).optional().describe('Only changes by this person or token name'),
        since: z.string().max(40).optional().describe('Entries at or after this time: ISO 8601 with a zone (2026-12-01T09:00:00Z) or a day (2026-12-01)'),
        until: z.string().max(40).optional().describe('Entries before this time (a day means up to its end, UTC)'),
        limit: z.int().min(1).max(200).default(20).describe('At most this many entries (default 20)'),
        before: z.int().min(1).optional().describe('Cursor: entries older than this id (the previous answer\'s nextCursor)'),
        includeValues: z.boolean().default(false).describe('Also return each entry\'s before/after values (large); default: the summary only'),
      }),
      annotations: { title: 'Read the audit log', ...READ_ONLY },
    },
    ({ flag, resourceType, environment, actor, since, until, limit, before, includeValues }) =>
      guarded(async () => {
        const query = { resourceType: flag !== undefined ? 'flag' : resourceType, resourceKey: flag, environment, actor, since, until, limit, before };
        const { data } = await api.request<{ items: AuditEntryView[]; nextCursor: number | null }>('GET', '/api/audit', { query });
        const items = data.items.map(({ before: was, after: is, ...entry }) => (includeValues ? { ...entry, before: was, after: is } : entry));
        const more = data.nextCursor === null ? '' : ` More: call again with before: ${data.nextCursor}.`;
        return dataResult(`${items.length} audit entr${items.length === 1 ? 'y' : 'ies'}, newest first.${more}`, { items, nextCursor: data.nextCursor });
      }),
  );

  server.registerTool(
    'get_code_references',
    {
      title: 'Where a flag is used in code',
      description:
        'The places in code (repository, branch, file, line, snippet) that reference a flag, as uploaded by "switchyard code-refs --upload" from CI, and when its last reference disappeared. Use it before removing a flag or changing its variations.',
      inputSchema: z.strictObject({ key: fields.flagKey }),
      annotations: { title: 'Where a flag is used in code', ...READ_ONLY },
    },
    ({ key }) =>
      guarded(async () => {
        type CodeRefs = { items: { repository: string; branch: string; path: string; line: number; uploadedAt?: number }[]; total?: number; lastReferencedAt: number | null; removedAt: number | null };
        let refs: CodeRefs;
        try {
          refs = (await api.request<CodeRefs>('GET', `${path.flag(key)}/code-refs`)).data;
        } catch (error) {
          // A server from before code references has no such route: say so, rather than "not found".
          if (error instanceof ApiError && error.status === 404 && /^no route /.test(error.message)) {
            return errorResult('This Switchyard server does not keep code references (it has no GET /api/flags/{key}/code-refs); upgrade it, then upload them with "switchyard code-refs --upload" from CI.');
          }
          throw error;
        }
        const when = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
        const total = refs.total ?? refs.items.length;
        const shown = total > refs.items.length ? ` (the first ${refs.items.length} below)` : '';
        const headline =
          refs.items.length > 0
            ? `"${key}" is referenced in ${total} place${total === 1 ? '' : 's'} (${[...new Set(refs.items.map((r) => r.repository))].join(', ')})${shown}.`
            : refs.removedAt !== null
              ? `"${key}" has no code references since ${when(refs.removedAt)}.`
              : `No code references uploaded for "${key}".`;
        const items = refs.items.map((r) => (r.uploadedAt === undefined ? r : { ...r, uploadedAt: when(r.uploadedAt) }));
        return dataResult(headline, { ...refs, items, lastReferencedAt: when(refs.lastReferencedAt), removedAt: when(refs.removedAt) });
      }),
  );
}
