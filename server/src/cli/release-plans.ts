import type { z } from 'zod';
import type { changeRequestResponse } from '../http/change-requests.routes.js';
import { stringOption } from './args.js';
import { path, printJson, type Command, type CommandContext } from './command.js';
import { ApiError, CommandError, UsageError } from './errors.js';

type RequestView = z.infer<typeof changeRequestResponse>;
interface PlanView {
  plan: { version: number; status: string; currentStep: number; spec: { strategy: string; steps: { percentage: number }[] } } | null;
}
interface PlanBody {
  version: number;
  status: string;
  currentStep: number;
  spec: { steps: { percentage: number }[] };
}

const KEY = { name: 'KEY', description: 'The flag key, e.g. new-checkout' } as const;
const ENV = { name: 'ENV', description: 'The environment key, e.g. production' } as const;

/**
 * `switchyard flags start-plan` / `resume-plan`: start or resume a flag's saved release plan (the
 * canary console's Start and Resume). Where the environment's approval policy requires review, a
 * direct start is refused; `--request TITLE` opens a change request that starts it once approved,
 * pinned to the plan's and the flag's versions read here.
 */
function planCommand(action: 'start' | 'resume'): Command {
  const verb = action === 'start' ? 'Start' : 'Resume';
  const done = action === 'start' ? 'Started' : 'Resumed';
  return {
    name: `flags ${action}-plan`,
    summary: action === 'start' ? "Start a flag's release plan in one environment (or --request it where approvals are required)" : 'Resume a paused release plan (or --request it where approvals are required)',
    description:
      (action === 'start'
        ? 'The flag moves to the plan\'s first step at once; then the plan ramps it by itself (a guarded plan\nrolls back on a regression).\n\n'
        : 'The plan carries on at its step; if the flag was moved while paused, it goes back there.\n\n') +
      "Where ENV's approval policy requires review, a direct " + action + ' is refused: --request TITLE opens a\n' +
      'change request that ' + action + 's it once approved (switchyard requests approve / apply), pinned to\n' +
      'the release plan and flag versions read now: if either changes before it is applied, apply is\n' +
      'refused and the request can be rebased.',
    arguments: [KEY, ENV],
    options: {
      request: { type: 'string', value: 'TITLE', description: `Open a change request that ${action}s the plan once approved, instead of ${action === 'start' ? 'starting' : 'resuming'} it now` },
      description: { type: 'string', value: 'TEXT', description: "With --request: the change request's description" },
    },
    examples: [`switchyard flags ${action}-plan new-checkout staging`, `switchyard flags ${action}-plan new-checkout production --request "${verb} the checkout canary"`],
    async run(context) {
      const [key, env] = context.positionals as [string, string];
      const title = stringOption(context.values, 'request');
      const description = stringOption(context.values, 'description');
      if (description !== undefined && title === undefined) throw new UsageError('--description goes with --request');
      if (title !== undefined && title.trim() === '') throw new UsageError('--request needs a title');
      const url = `${path.flagEnvironment(key, env)}/release-plan`;
      if (title === undefined) {
        const response = await context.api.request<PlanBody>('POST', `${url}/${action}`, { body: {} }).catch((error: unknown) => {
          // Say the CLI's way to do what the server's refusal advises.
          if (error instanceof ApiError && error.code === 'approval_required') {
            throw new CommandError(`${error.message}\nWith the CLI: switchyard flags ${action}-plan ${key} ${env} --request "TITLE"`);
          }
          throw error;
        });
        if (context.json) return printJson(context.io, response);
        const step = response.data.spec.steps[response.data.currentStep];
        context.io.out(`${done} the release plan of ${key} in ${env}: ${response.data.status}${step ? ` at ${step.percentage}%` : ''} (plan version ${response.data.version})\n`);
        return;
      }
      await propose(context, key, env, url, action, title, description);
    },
  };
}

async function propose(context: CommandContext, key: string, env: string, url: string, action: 'start' | 'resume', title: string, description: string | undefined): Promise<void> {
  // The versions read now are what the request is pinned to: a change in between is refused (409), not proposed unseen.
  const [view, flag] = await Promise.all([context.api.request<PlanView>('GET', url), context.api.request<{ version: number }>('GET', path.flag(key))]);
  const plan = view.data.plan;
  if (!plan) throw new CommandError(`${key} has no release plan in ${env}: save one first (dashboard canary console, or PUT ${url})`);
  const body = { version: flag.data.version, planVersion: plan.version, title, ...(description !== undefined ? { description } : {}) };
  const result = await context.api.request<RequestView>('POST', `${url}/${action}`, { body, query: { changeRequest: 'true' } });
  if (context.json) return printJson(context.io, result);
  const r = result.data;
  const steps = plan.spec.steps.map((s) => `${s.percentage}%`).join(' → ');
  context.io.out(`Opened change request #${r.id} in ${r.environment}: ${r.title}. It ${action}s the ${plan.spec.strategy} plan (version ${plan.version}: ${steps}) once applied; nothing changed yet.\n`);
  if (r.approvalsNeeded > 0) context.io.out(`Once approved (switchyard requests approve ${r.id}, by someone else): switchyard requests apply ${r.id}\n`);
  else context.io.out(`No policy requires approval in ${r.environment}: apply it with switchyard requests apply ${r.id}\n`);
}

export const releasePlanCommands: readonly Command[] = [planCommand('start'), planCommand('resume')];
