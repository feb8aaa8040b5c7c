import { FLAG_TYPES } from '@switchyard/sdk/ruleset';
import { parseStage } from '../domain/stages.js';
import { booleanOption, oneOf, stringOption, stringsOption } from './args.js';
import { path, printJson, type Command, type CommandContext, type EnvironmentView, type FlagView } from './command.js';
import { CommandError, UsageError } from './errors.js';
import { formatCreated, formatFlag, formatFlagList, formatStageChange, stageText } from './flag-view.js';

const KEY = { name: 'KEY', description: 'The flag key, e.g. new-checkout' } as const;
const ENV = { name: 'ENV', description: 'The environment key, e.g. production' } as const;
const MESSAGE = { type: 'string', value: 'TEXT', description: 'Why: recorded in the audit log' } as const;

async function readFlag(context: CommandContext, key: string) {
  return context.api.request<FlagView>('GET', path.flag(key));
}

const list: Command = {
  name: 'flags list',
  summary: 'List flags with their stage in each environment',
  arguments: [],
  options: {
    env: { type: 'string', value: 'ENV', description: 'Show the stage in this environment only' },
    tag: { type: 'string', value: 'TAG', description: 'Only flags with this tag' },
    stage: { type: 'string', value: 'STAGE', description: 'Only flags at this stage (off, dogfood, kill, 100%, custom, or "rollout" for any N%); with --env, in that environment' },
    search: { type: 'string', value: 'TEXT', description: 'Only flags whose key, name or description contains TEXT' },
    archived: { type: 'boolean', description: 'List archived flags instead of active ones' },
    all: { type: 'boolean', description: 'List active and archived flags' },
  },
  examples: ['switchyard flags list', 'switchyard flags list --env production --tag checkout', 'switchyard flags list --stage rollout --json'],
  async run(context) {
    const { values } = context;
    const env = stringOption(values, 'env');
    if (booleanOption(values, 'archived') && booleanOption(values, 'all')) throw new UsageError('use either --archived or --all, not both');
    const archived = booleanOption(values, 'all') ? 'all' : booleanOption(values, 'archived') ? 'true' : 'false';
    const query = { archived, tag: stringOption(values, 'tag'), q: stringOption(values, 'search'), stage: stringOption(values, 'stage'), environment: env };
    const [response, environments] = await Promise.all([
      context.api.request<{ items: FlagView[] }>('GET', '/api/flags', { query }),
      env === undefined ? undefined : context.api.request<{ items: EnvironmentView[] }>('GET', '/api/environments'),
    ]);
    if (environments && !environments.data.items.some((e) => e.key === env)) {
      throw new CommandError(`environment "${env}" not found; environments: ${environments.data.items.map((e) => e.key).join(', ')}`);
    }
    if (context.json) return printJson(context.io, response);
    const flags = response.data.items;
    if (flags.length === 0) return context.io.out(archived === 'true' ? 'No archived flags.\n' : 'No flags match.\n');
    context.io.out(formatFlagList(flags, env));
  },
};

const get: Command = {
  name: 'flags get',
  summary: "Show a flag: metadata, variations and each environment's stage",
  arguments: [KEY],
  options: {},
  examples: ['switchyard flags get new-checkout', 'switchyard flags get new-checkout --json | jq .environments.production.stage'],
  async run(context) {
    const response = await readFlag(context, context.positionals[0]!);
    if (context.json) return printJson(context.io, response);
    context.io.out(formatFlag(response.data));
  },
};

/** `--variations '[{"key":"a","value":"A"}, …]'`: checked to be a JSON array here, in detail by the server. */
export function parseVariations(text: string): unknown[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--variations is not valid JSON (${(error as Error).message})`, `Example: --variations '[{"key":"red","value":"#f00"},{"key":"blue","value":"#00f"}]'`);
  }
  if (!Array.isArray(value)) throw new UsageError('--variations must be a JSON array of {"key": …, "value": …} objects');
  return value;
}

const create: Command = {
  name: 'flags create',
  summary: 'Create a flag (off in every environment)',
  arguments: [{ name: 'KEY', description: 'Lowercase letters, digits, ".", "_" or "-", e.g. new-checkout' }],
  options: {
    name: { type: 'string', value: 'NAME', description: 'Display name (default: the key)' },
    description: { type: 'string', value: 'TEXT', description: 'What the flag is for' },
    tag: { type: 'string', multiple: true, value: 'TAG', description: 'A tag; repeat for several' },
    owner: { type: 'string', value: 'OWNER', description: 'Who is responsible for it (team or person)' },
    type: { type: 'string', value: 'TYPE', description: `Variation type: ${FLAG_TYPES.join(', ')} (default: boolean)` },
    variations: { type: 'string', value: 'JSON', description: 'Variations as a JSON array of {"key", "value"} (default for boolean: off=false, on=true)' },
    'client-visible': { type: 'boolean', description: 'Client keys (browsers, mobile apps) receive its evaluated value (default: hidden from them)' },
  },
  examples: [
    'switchyard flags create new-checkout --name "New checkout" --tag checkout --owner payments',
    'switchyard flags create promo-banner --client-visible',
    `switchyard flags create button-color --type string --variations '[{"key":"red","value":"#f00"},{"key":"blue","value":"#00f"}]'`,
  ],
  async run(context) {
    const { values } = context;
    const type = stringOption(values, 'type');
    if (type !== undefined && !(FLAG_TYPES as readonly string[]).includes(type)) {
      throw new UsageError(`--type must be one of ${FLAG_TYPES.join(', ')}, got ${JSON.stringify(type)}`);
    }
    const variations = stringOption(values, 'variations');
    const tags = stringsOption(values, 'tag');
    const body = {
      key: context.positionals[0]!,
      name: stringOption(values, 'name'),
      description: stringOption(values, 'description'),
      tags: tags.length > 0 ? tags : undefined,
      owner: stringOption(values, 'owner'),
      type,
      variations: variations === undefined ? undefined : parseVariations(variations),
      // Sent only when asked for: the server's default (hidden) stays the one place that decides.
      clientVisible: booleanOption(values, 'client-visible') ? true : undefined,
    };
    const response = await context.api.request<FlagView>('POST', '/api/flags', { body });
    if (context.json) return printJson(context.io, response);
    context.io.out(formatCreated(response.data));
  },
};

const STAGE_HELP = 'off, dogfood, N% (e.g. 10%, 0.5%), 100% or kill';

/** Catch a mistyped stage before any request, with the likely intent as a hint. */
export function checkStage(text: string): string {
  if (parseStage(text) !== undefined) return text;
  const hint = /^\d{1,3}(\.\d{1,3})?$/.test(text.trim()) ? `Did you mean "${text.trim()}%"?` : `STAGE is ${STAGE_HELP}.`;
  throw new UsageError(`invalid stage ${JSON.stringify(text)}`, hint);
}

const stage: Command = {
  name: 'flags stage',
  summary: 'Move a flag to a release stage in one environment',
  description:
    "Reads the flag's current version and sends it with the change, so a change someone else made in\n" +
    'between is never overwritten: the server refuses with a conflict (exit code 1); read and retry.\n' +
    'Ramps keep the flag\'s salt, so everyone inside 10% stays inside at 50%.',
  arguments: [KEY, ENV, { name: 'STAGE', description: STAGE_HELP }],
  options: {
    variation: { type: 'string', value: 'KEY', description: 'Variation to release (non-boolean flags; default: the current one)' },
    message: MESSAGE,
  },
  examples: [
    'switchyard flags stage new-checkout staging dogfood',
    'switchyard flags stage new-checkout production 10% --message "ramp after a clean day"',
    'switchyard flags stage new-checkout production 0.5%',
  ],
  async run(context) {
    const [key, env, text] = context.positionals as [string, string, string];
    const target = checkStage(text);
    const before = await readFlag(context, key);
    const body = { stage: target, variation: stringOption(context.values, 'variation'), message: stringOption(context.values, 'message'), version: before.data.version };
    const after = await context.api.request<FlagView>('POST', `${path.flagEnvironment(key, env)}/stage`, { body });
    if (context.json) return printJson(context.io, after);
    context.io.out(formatStageChange(before.data, after.data, env));
  },
};

const kill: Command = {
  name: 'flags kill',
  summary: 'Kill switch: turn a flag off in one environment now, from any stage',
  description: 'Needs no version: the kill switch works even when someone changed the flag a moment ago.',
  arguments: [KEY, ENV],
  options: { message: MESSAGE },
  examples: ['switchyard flags kill new-checkout production --message "checkout errors, INC-1234"'],
  async run(context) {
    const [key, env] = context.positionals as [string, string];
    const message = stringOption(context.values, 'message');
    // Always a JSON object body: an earlier server rejected a bodiless POST here (body null, schema optional).
    const response = await context.api.request<FlagView>('POST', `${path.flagEnvironment(key, env)}/kill`, { body: { message } });
    if (context.json) return printJson(context.io, response);
    const config = response.data.environments[env];
    context.io.out(`Killed ${key} in ${env}: everyone gets "${config?.offVariation ?? 'off'}" (version ${response.data.version})\n`);
    // The kill keeps the targeting: moving back to the stage it was at restores it, rules and all.
    const from = config?.killedFrom;
    if (from && from !== 'off') context.io.out(`To restore it: switchyard flags stage ${key} ${env} ${from}\n`);
  },
};

const resume: Command = {
  name: 'flags resume',
  summary: "End an incident kill of a Git-managed flag: the Git file's configuration applies again",
  description:
    'A kill of a flag managed by the Git sync holds it killed in that environment through syncs and\n' +
    "restarts, until it is resumed (or a commit changes the flag there). Resuming puts back what the\n" +
    'file asks for in ENV at once; audited as flag.resumed. Refused when nothing holds it.',
  arguments: [KEY, ENV],
  options: { message: MESSAGE },
  examples: ['switchyard flags resume new-checkout production --message "fixed in 4.2.1, INC-1234"'],
  async run(context) {
    const [key, env] = context.positionals as [string, string];
    // No version: the hold itself is what is resumed, and the server refuses (409) when there is none.
    const response = await context.api.request<FlagView>('POST', `${path.flagEnvironment(key, env)}/resume`, { body: { message: stringOption(context.values, 'message') } });
    if (context.json) return printJson(context.io, response);
    const stageNow = stageText(response.data.environments[env], '?');
    context.io.out(`Resumed ${key} in ${env}: back to the file's configuration (stage ${stageNow}, version ${response.data.version})\n`);
  },
};

function archiveCommand(archived: boolean): Command {
  const verb = archived ? 'archive' : 'unarchive';
  return {
    name: `flags ${verb}`,
    summary: archived ? 'Archive a flag: hidden from lists, and SDKs stop receiving it (code gets its default)' : 'Bring an archived flag back (SDKs receive it again)',
    arguments: [KEY],
    options: {},
    examples: [`switchyard flags ${verb} old-banner`],
    async run(context) {
      const key = context.positionals[0]!;
      const current = await readFlag(context, key);
      if (current.data.archived === archived) {
        if (context.json) return printJson(context.io, current);
        return context.io.out(`${key} is already ${archived ? 'archived' : 'active'}\n`);
      }
      const response = await context.api.request<FlagView>('PATCH', path.flag(key), { body: { version: current.data.version, archived } });
      if (context.json) return printJson(context.io, response);
      context.io.out(`${archived ? 'Archived' : 'Unarchived'} ${key} (version ${response.data.version})\n`);
    },
  };
}

const VISIBILITY = ['on', 'off'] as const;

const clientVisible: Command = {
  name: 'flags client-visible',
  summary: 'Show a flag to client keys (browsers, mobile apps), or hide it from them',
  description:
    'Client keys are public: they ship inside web and mobile apps. They receive the evaluated value of\n' +
    'flags switched on here, for the one user they ask about, and never rules, segments or other flags.\n' +
    'New flags are hidden from them. Server-side SDKs (server keys) always get every flag.',
  arguments: [KEY, { name: 'on|off', description: 'on: client keys receive its value; off: they do not' }],
  options: {},
  examples: ['switchyard flags client-visible promo-banner on', 'switchyard flags client-visible internal-tools off'],
  async run(context) {
    const [key, text] = context.positionals as [string, string];
    const visible = oneOf(text, VISIBILITY, 'client visibility', `Usage: switchyard flags client-visible ${key} on|off`) === 'on';
    const current = await readFlag(context, key);
    if (current.data.clientVisible === visible) {
      if (context.json) return printJson(context.io, current);
      return context.io.out(`${key} is already ${visible ? 'visible to' : 'hidden from'} client keys\n`);
    }
    const response = await context.api.request<FlagView>('PATCH', path.flag(key), { body: { version: current.data.version, clientVisible: visible } });
    if (context.json) return printJson(context.io, response);
    context.io.out(
      visible
        ? `${key} is now visible to client keys: browsers and mobile apps get its evaluated value (version ${response.data.version})\n`
        : `${key} is now hidden from client keys (version ${response.data.version})\n`,
    );
  },
};

export const flagCommands: readonly Command[] = [list, get, create, stage, kill, resume, archiveCommand(true), archiveCommand(false), clientVisible];
