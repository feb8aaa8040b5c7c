import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { LIMITS } from '../../domain/flags.js';
import { rampStage } from '../../domain/stages.js';
import { path, type FlagView } from '../command.js';
import type { ApiClient } from '../http.js';
import { plural } from '../output.js';
import type { DryRun, Role } from './plans.js';
import { fields, guarded } from './read-tools.js';
import { dataResult, errorResult } from './results.js';

/**
 * `start_release_plan` / `resume_release_plan`: the canary console's Start and Resume (and the CLI's
 * `flags start-plan` / `resume-plan`), through the same REST routes. Where an approval policy
 * applies, a direct start is refused (409 approval_required); `requestTitle` opens a change request
 * that does it once approved, pinned to the plan's and the flag's versions read here.
 */

type Action = 'start' | 'resume';

/** The saved plan, as far as these tools show it (GET …/release-plan). */
export interface PlanSnapshot {
  version: number;
  status: string;
  currentStep: number;
  spec: { strategy: string; steps: { percentage: number }[]; guard: unknown };
}

interface ChangeRequestView {
  id: number;
  title: string;
  environment: string;
  status: string;
  approvalsNeeded: number;
  changes: { diff: unknown[] }[];
}

export interface ReleaseFacts {
  role: Role;
  /** The saved plan in the environment, or null when there is none. */
  plan: PlanSnapshot | null;
  /** Approvals the environment's policy requires, or null when changes there are written directly. */
  approvalsRequired: number | null;
  /** Open a change request instead of acting. */
  changeRequest: boolean;
}

const tool = (action: Action) => `${action}_release_plan`;
const stepsText = (plan: PlanSnapshot) => plan.spec.steps.map((s) => `${s.percentage}%`).join(' → ');
const planText = (plan: PlanSnapshot) => `the ${plan.spec.strategy} plan (version ${plan.version}: ${stepsText(plan)}${plan.spec.guard ? ', guarded by its error rate' : ''})`;
const noPlan = (key: string, env: string) => `"${key}" has no release plan in ${env}: save one first (the dashboard's canary console, or PUT ${path.flagEnvironment(key, env)}/release-plan)`;

/** What to tell an agent whose direct start or resume hit an approval policy. */
export function approvalNextStep(action: Action): string {
  return (
    `This environment has an approval policy. Call ${tool(action)} again with requestTitle (e.g. "${action === 'start' ? 'Start' : 'Resume'} the checkout canary") ` +
    `to open a change request that ${action}s the plan once approved; reviewers approve and apply it (dashboard, or "switchyard requests approve ID" then "switchyard requests apply ID").`
  );
}

/** The step a start moves the flag to: a plan never ramps down, so the first step at or above the flag's current percentage (as the server does). */
function firstStep(plan: PlanSnapshot, config: FlagView['environments'][string]): number {
  const stage = rampStage(config);
  const already = stage.endsWith('%') ? Number(stage.slice(0, -1)) : 0;
  const index = plan.spec.steps.findIndex((s) => s.percentage >= already);
  return index === -1 ? plan.spec.steps.length - 1 : index;
}

/** `start_release_plan` / `resume_release_plan` with `dryRun`: what the call would do, or the refusal it would get, in the order the server checks. */
export function planRelease(action: Action, flag: FlagView, env: string, facts: ReleaseFacts): DryRun {
  const refused = (refusal: string): DryRun => ({ summary: [], refusal, after: null });
  const verb = action === 'start' ? 'starting' : 'resuming';
  if (facts.role === 'viewer') return refused(`${verb} a release plan needs the editor role; this API token is a viewer token (403 forbidden). Use an editor or admin token.`);
  const config = flag.environments[env];
  if (!config) return refused(`environment "${env}" not found (404); flag "${flag.key}" has environments: ${Object.keys(flag.environments).join(', ') || 'none'}`);
  const plan = facts.plan;
  if (!plan) return refused(noPlan(flag.key, env));
  if (action === 'start' && (plan.status === 'running' || plan.status === 'paused')) return refused(`the plan is already ${plan.status} (409 conflict)${plan.status === 'paused' ? ': use resume_release_plan' : ''}`);
  if (action === 'resume' && plan.status !== 'paused') return refused(`only a paused plan can be resumed; this one is ${plan.status} (409 conflict)${plan.status === 'running' ? '' : ': use start_release_plan'}`);
  if (facts.approvalsRequired !== null && !facts.changeRequest) {
    return refused(`${verb} the release plan of flag "${flag.key}" in ${env} needs ${plural(facts.approvalsRequired, 'approval')} (409 approval_required). ${approvalNextStep(action)}`);
  }
  if (flag.managedBy && action === 'start') return refused(`flag "${flag.key}" is managed by Git (${flag.managedBy}) (423 locked); a release plan cannot move it`);
  const index = action === 'start' ? firstStep(plan, config) : plan.currentStep;
  const step = plan.spec.steps[index];
  const effect =
    action === 'start'
      ? `the flag moves from ${config.stage} to ${step?.percentage ?? '?'}% (step ${index + 1} of ${plan.spec.steps.length}), then the plan ramps it by itself`
      : `the plan carries on at step ${index + 1} of ${plan.spec.steps.length} (${step?.percentage ?? '?'}%); if the flag was moved while paused, it goes back there`;
  const after = { key: flag.key, environment: env, planVersion: plan.version, status: 'running', currentStep: index, percentage: step?.percentage ?? null };
  if (facts.changeRequest) {
    const needs = facts.approvalsRequired === null ? 'no approval policy applies here, so it could be applied at once' : `it needs ${plural(facts.approvalsRequired, 'approval')}`;
    return { summary: [`Would open a change request to ${action} ${planText(plan)} of "${flag.key}" in ${env} (${needs}); nothing changes until it is approved and applied.`, `Once applied: ${effect}.`], refusal: null, after };
  }
  return { summary: [`Would ${action} ${planText(plan)} of "${flag.key}" in ${env}: ${effect}.`], refusal: null, after };
}

async function facts(api: ApiClient, key: string, env: string, changeRequest: boolean): Promise<{ flag: FlagView; facts: ReleaseFacts }> {
  const [me, flag, view, policy] = await Promise.all([
    api.request<{ role: Role }>('GET', '/api/me'),
    api.request<FlagView>('GET', path.flag(key)),
    api.request<{ plan: PlanSnapshot | null }>('GET', `${path.flagEnvironment(key, env)}/release-plan`),
    api.request<{ required: boolean; approvals: number }>('GET', `/api/environments/${encodeURIComponent(env)}/approval-policy`).catch(() => null),
  ]);
  const approvalsRequired = policy?.data.required ? policy.data.approvals : null;
  return { flag: flag.data, facts: { role: me.data.role, plan: view.data.plan, approvalsRequired, changeRequest } };
}

function registerReleaseTool(server: McpServer, api: ApiClient, action: Action): void {
  const verb = action === 'start' ? 'Start' : 'Resume';
  const done = action === 'start' ? 'Started' : 'Resumed';
  server.registerTool(
    tool(action),
    {
      title: `${verb} a flag's release plan`,
      description:
        (action === 'start'
          ? "Start the flag's saved release plan (guarded canary or rolling ramp) in one environment: the flag moves to the plan's first step at once (never down: a flag already at 20% starts at the first step of at least 20%), then the plan ramps it by itself; a guarded plan rolls back to dogfood on its own when the new variation has more errors. "
          : "Resume a paused release plan in one environment: it carries on at its step, and if the flag was moved while paused it goes back there. ") +
        `In an environment with an approval policy a direct ${action} is refused (409 approval_required): pass requestTitle to open a change request that ${action}s it once approved, pinned to the plan and flag versions read now. The plan itself is saved in the dashboard's canary console. Needs an editor token. Audited with source mcp.`,
      inputSchema: z.strictObject({
        key: fields.flagKey,
        environment: fields.environment,
        requestTitle: z
          .string()
          .trim()
          .min(1)
          .max(LIMITS.name)
          .optional()
          .describe(`Do not ${action} it now: open a change request with this title that ${action}s the plan once reviewers approve and apply it (environments with an approval policy)`),
        requestDescription: z.string().max(LIMITS.description).optional().describe("With requestTitle: the change request's description (why, for the reviewers)"),
        dryRun: z.boolean().default(false).describe('true: write nothing; answer with what would change (or why the server would refuse). Use it first when unsure.'),
      }),
      annotations: { title: `${verb} a flag's release plan`, readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    },
    ({ key, environment, requestTitle, requestDescription, dryRun }) =>
      guarded(
        async () => {
          if (requestDescription !== undefined && requestTitle === undefined) return errorResult('requestDescription goes with requestTitle: give the change request a title too, or leave both out to act directly.');
          const url = `${path.flagEnvironment(key, environment)}/release-plan`;
          if (dryRun) {
            const read = await facts(api, key, environment, requestTitle !== undefined);
            const plan = planRelease(action, read.flag, environment, read.facts);
            if (plan.refusal !== null) return errorResult(`Dry run, nothing was written. The real call would be refused: ${plan.refusal}`);
            return dataResult(`Dry run, nothing was written.\n${plan.summary.join('\n')}`, plan.after);
          }
          if (requestTitle === undefined) {
            const { data: plan } = await api.request<PlanSnapshot>('POST', `${url}/${action}`, { body: {} });
            const step = plan.spec.steps[plan.currentStep];
            return dataResult(
              `${done} the release plan of "${key}" in ${environment}: ${plan.status}${step ? ` at ${step.percentage}% (step ${plan.currentStep + 1} of ${plan.spec.steps.length})` : ''}, plan version ${plan.version}. It ramps by itself from here: ${stepsText(plan)}.`,
              { key, environment, status: plan.status, currentStep: plan.currentStep, percentage: step?.percentage ?? null, planVersion: plan.version, steps: plan.spec.steps.map((s) => s.percentage) },
            );
          }
          // The versions read now are what the request is pinned to: a change in between is refused (409), not proposed unseen.
          const [view, flag] = await Promise.all([api.request<{ plan: PlanSnapshot | null }>('GET', url), api.request<{ version: number }>('GET', path.flag(key))]);
          const plan = view.data.plan;
          if (!plan) return errorResult(noPlan(key, environment));
          const body = { version: flag.data.version, planVersion: plan.version, title: requestTitle, ...(requestDescription !== undefined ? { description: requestDescription } : {}) };
          const { data: request } = await api.request<ChangeRequestView>('POST', `${url}/${action}`, { body, query: { changeRequest: 'true' } });
          const next =
            request.approvalsNeeded > 0
              ? `It needs ${plural(request.approvalsNeeded, 'approval')} from someone else (dashboard, or "switchyard requests approve ${request.id}"), then "switchyard requests apply ${request.id}".`
              : `No policy requires approval in ${request.environment}: apply it with "switchyard requests apply ${request.id}".`;
          return dataResult(
            `Opened change request #${request.id} "${request.title}" in ${request.environment} (status ${request.status}). It ${action}s ${planText(plan)} once applied; nothing changed yet. ${next}`,
            { id: request.id, status: request.status, environment: request.environment, approvalsNeeded: request.approvalsNeeded, planVersion: plan.version, flagVersion: flag.data.version, diff: request.changes.flatMap((c) => c.diff) },
          );
        },
        { approval_required: approvalNextStep(action) },
      ),
  );
}

export function registerReleaseTools(server: McpServer, api: ApiClient): void {
  registerReleaseTool(server, api, 'start');
  registerReleaseTool(server, api, 'resume');
}
