import { oneOf, positiveInteger, stringOption } from './args.js';
import { printJson, type Command, type SdkKeyView } from './command.js';
import { UsageError } from './errors.js';
import { formatTable, formatTime } from './output.js';

/** As the server spells them (domain/credentials.ts SDK_KEY_KINDS); checked here to fail before any request. */
const KINDS = ['server', 'client'] as const;

const create: Command = {
  name: 'sdk-keys create',
  summary: 'Create an SDK key for one environment (the key is printed once)',
  description:
    'Prints the key alone on stdout, so KEY=$(switchyard sdk-keys create api --env production) captures it;\n' +
    'the server keeps only its hash, so store it now.\n\n' +
    'server (default): secret; server-side SDKs read the whole rule set of the environment with it.\n' +
    'client: public, made to ship inside web and mobile apps; it only gets the evaluated values of flags\n' +
    'marked visible to client keys ("switchyard flags client-visible KEY on"), one user at a time, over\n' +
    'OFREP bulk evaluation. See "switchyard envs secure-mode" to make it require signed user keys.',
  arguments: [{ name: 'NAME', description: 'What uses it, e.g. checkout-api or web-app' }],
  options: {
    env: { type: 'string', value: 'ENV', description: 'The environment it reads (required)' },
    kind: { type: 'string', value: 'KIND', description: `${KINDS.join(' or ')} (default: server)` },
  },
  examples: ['switchyard sdk-keys create checkout-api --env production', 'switchyard sdk-keys create web-app --env production --kind client', 'switchyard sdk-keys create web-app --env staging --kind client --json'],
  async run(context) {
    const environment = stringOption(context.values, 'env');
    if (environment === undefined) throw new UsageError('missing --env', 'Name the environment the key reads, e.g. --env production');
    const text = stringOption(context.values, 'kind');
    const kind = text === undefined ? 'server' : oneOf(text, KINDS, '--kind');
    const body = { name: context.positionals[0], environment, kind };
    const response = await context.api.request<SdkKeyView & { key: string }>('POST', '/api/sdk-keys', { body });
    const warning = 'Warning: store this key now; it will not be shown again.\n';
    if (context.json) {
      printJson(context.io, response);
      return context.io.err(warning);
    }
    const { id, name } = response.data;
    context.io.err(`Created ${response.data.kind} key "${name}" for ${response.data.environment} (id ${id}):\n`);
    context.io.out(`${response.data.key}\n`);
    context.io.err(warning);
    if (response.data.kind === 'client') {
      context.io.err('It is public by design (it ships in your app) and gets only flags marked visible to client keys: switchyard flags client-visible KEY on\n');
    }
  },
};

const list: Command = {
  name: 'sdk-keys list',
  summary: 'List SDK keys with their kind and environment (never their secrets)',
  arguments: [],
  options: {},
  examples: ['switchyard sdk-keys list', 'switchyard sdk-keys list --json'],
  async run(context) {
    const response = await context.api.request<{ items: SdkKeyView[] }>('GET', '/api/sdk-keys');
    if (context.json) return printJson(context.io, response);
    if (response.data.items.length === 0) return context.io.out('No SDK keys. Create one with: switchyard sdk-keys create NAME --env ENV\n');
    const rows = response.data.items.map((k) => [
      String(k.id),
      k.name,
      k.kind,
      k.environment,
      k.prefix,
      k.revokedAt ? `revoked ${formatTime(k.revokedAt)}` : 'active',
      formatTime(k.createdAt),
    ]);
    context.io.out(formatTable(['ID', { header: 'NAME', maxWidth: 40 }, 'KIND', 'ENVIRONMENT', 'PREFIX', 'STATUS', 'CREATED'], rows));
  },
};

const revoke: Command = {
  name: 'sdk-keys revoke',
  summary: 'Revoke an SDK key (it stops working immediately)',
  arguments: [{ name: 'ID', description: 'The key id, from "switchyard sdk-keys list"' }],
  options: {},
  examples: ['switchyard sdk-keys revoke 7'],
  async run(context) {
    const id = positiveInteger(context.positionals[0]!, 'ID');
    const response = await context.api.request<SdkKeyView>('DELETE', `/api/sdk-keys/${id}`);
    if (context.json) return printJson(context.io, response);
    context.io.out(`Revoked SDK key ${id} ("${response.data.name}", ${response.data.kind}, ${response.data.environment})\n`);
  },
};

export const sdkKeyCommands: readonly Command[] = [create, list, revoke];
