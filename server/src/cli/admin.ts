import { positiveInteger, stringOption } from './args.js';
import { printJson, type Command, type EnvironmentView, type TokenView } from './command.js';
import { UsageError } from './errors.js';
import { formatTable, formatTime } from './output.js';

const ROLES = ['admin', 'editor', 'viewer'] as const;

const envsList: Command = {
  name: 'envs list',
  summary: 'List environments',
  arguments: [],
  options: {},
  examples: ['switchyard envs list', 'switchyard envs list --json'],
  async run(context) {
    const response = await context.api.request<{ items: EnvironmentView[] }>('GET', '/api/environments');
    if (context.json) return printJson(context.io, response);
    const rows = response.data.items.map((e) => [e.key, e.name, e.critical ? 'yes' : 'no', String(e.version), formatTime(e.createdAt)]);
    context.io.out(formatTable(['KEY', { header: 'NAME', maxWidth: 40 }, 'CRITICAL', 'VERSION', 'CREATED'], rows));
  },
};

const tokensCreate: Command = {
  name: 'tokens create',
  summary: 'Create an API token (the secret is printed once)',
  description:
    'Prints the secret alone on stdout, so TOKEN=$(switchyard tokens create ci --role editor) captures it;\n' +
    'the server keeps only its hash, so store it now.',
  arguments: [{ name: 'NAME', description: 'Who or what uses it; recorded as the actor in the audit log' }],
  options: { role: { type: 'string', value: 'ROLE', description: `${ROLES.join(', ')} (required)` } },
  examples: ['switchyard tokens create ci --role editor', 'switchyard tokens create grafana --role viewer --json'],
  async run(context) {
    const role = stringOption(context.values, 'role');
    if (role === undefined) throw new UsageError('missing --role', `Choose one of ${ROLES.join(', ')}, e.g. --role editor`);
    if (!(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}, got ${JSON.stringify(role)}`);
    const response = await context.api.request<TokenView & { token: string }>('POST', '/api/tokens', { body: { name: context.positionals[0], role } });
    const warning = 'Warning: store this token now; it will not be shown again.\n';
    if (context.json) {
      printJson(context.io, response);
      return context.io.err(warning);
    }
    const { id, name } = response.data;
    context.io.err(`Created ${role} token "${name}" (id ${id}):\n`);
    context.io.out(`${response.data.token}\n`);
    context.io.err(warning);
  },
};

const tokensList: Command = {
  name: 'tokens list',
  summary: 'List API tokens (never their secrets)',
  arguments: [],
  options: {},
  examples: ['switchyard tokens list'],
  async run(context) {
    const response = await context.api.request<{ items: TokenView[] }>('GET', '/api/tokens');
    if (context.json) return printJson(context.io, response);
    const rows = response.data.items.map((t) => [
      String(t.id),
      t.name,
      t.role,
      t.prefix,
      t.revokedAt ? `revoked ${formatTime(t.revokedAt)}` : 'active',
      formatTime(t.createdAt),
      formatTime(t.lastUsedAt),
    ]);
    context.io.out(formatTable(['ID', { header: 'NAME', maxWidth: 40 }, 'ROLE', 'PREFIX', 'STATUS', 'CREATED', 'LAST USED'], rows));
  },
};

const tokensRevoke: Command = {
  name: 'tokens revoke',
  summary: 'Revoke an API token (it stops working immediately)',
  arguments: [{ name: 'ID', description: 'The token id, from "switchyard tokens list"' }],
  options: {},
  examples: ['switchyard tokens revoke 3'],
  async run(context) {
    const id = positiveInteger(context.positionals[0]!, 'ID');
    const response = await context.api.request<TokenView>('DELETE', `/api/tokens/${id}`);
    if (context.json) return printJson(context.io, response);
    context.io.out(`Revoked token ${id} ("${response.data.name}", ${response.data.role})\n`);
  },
};

export const adminCommands: readonly Command[] = [envsList, tokensCreate, tokensList, tokensRevoke];
