import { oneOf, positiveInteger, stringOption } from './args.js';
import { path, printJson, type Command, type CommandContext, type EnvironmentView, type TokenView } from './command.js';
import { CommandError, UsageError } from './errors.js';
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
    const rows = response.data.items.map((e) => [e.key, e.name, e.critical ? 'yes' : 'no', e.clientSecureMode ? 'on' : 'off', String(e.version), formatTime(e.createdAt)]);
    context.io.out(formatTable(['KEY', { header: 'NAME', maxWidth: 40 }, 'CRITICAL', 'SECURE MODE', 'VERSION', 'CREATED'], rows));
  },
};

const SECURE_MODE_ACTIONS = ['on', 'rotate', 'off'] as const;

/** The server has no single-environment read: find it in the list, or say which ones exist. */
async function readEnvironment(context: CommandContext, key: string): Promise<EnvironmentView> {
  const response = await context.api.request<{ items: EnvironmentView[] }>('GET', '/api/environments');
  const found = response.data.items.find((e) => e.key === key);
  if (!found) throw new CommandError(`environment "${key}" not found; environments: ${response.data.items.map((e) => e.key).join(', ')}`);
  return found;
}

const secureMode: Command = {
  name: 'envs secure-mode',
  summary: "Make client keys send signed user keys (on), replace the secret (rotate), or stop (off)",
  description:
    'With secure mode on, a client key may only ask about a user whose key (targetingKey or userId)\n' +
    'comes with switchyardSignature = hex HMAC-SHA256(secret, userKey), computed by your application\n' +
    'server (signUserKey in @switchyard/sdk/node), so a browser cannot ask for somebody else\'s flags.\n' +
    'Contexts without a user key need no signature.\n\n' +
    'on and rotate print the new secret alone on stdout (SECRET=$(switchyard envs secure-mode production on));\n' +
    'the server shows it only once, so store it now. rotate makes the old secret stop working at once.\n' +
    '"on" refuses when secure mode is already on, and "rotate" when it is off, so a typo cannot break\n' +
    'signed clients or turn the check on by surprise.',
  arguments: [
    { name: 'ENV', description: 'The environment key, e.g. production' },
    { name: 'on|rotate|off', description: 'on: require signatures (new secret); rotate: new secret, the old one stops working; off: no signatures needed' },
  ],
  options: {},
  examples: ['switchyard envs secure-mode production on', 'switchyard envs secure-mode production rotate --json', 'switchyard envs secure-mode staging off'],
  async run(context) {
    const [key, text] = context.positionals as [string, string];
    const action = oneOf(text, SECURE_MODE_ACTIONS, 'the secure-mode action', `Usage: switchyard envs secure-mode ${key} on|rotate|off`);
    const before = await readEnvironment(context, key);
    const command = (a: string) => `switchyard envs secure-mode ${key} ${a}`;
    if (action === 'on' && before.clientSecureMode) {
      throw new CommandError(`secure mode is already on in ${key}; its secret was shown when it was turned on. For a new one run "${command('rotate')}" (the current secret stops working at once)`);
    }
    if (action === 'rotate' && !before.clientSecureMode) {
      throw new CommandError(`secure mode is off in ${key}: there is no secret to rotate. Turn it on with "${command('on')}"`);
    }
    if (action === 'off') {
      if (!before.clientSecureMode) {
        if (context.json) return context.io.out(`${JSON.stringify(before)}\n`);
        return context.io.out(`Secure mode is already off in ${key}\n`);
      }
      const response = await context.api.request<EnvironmentView>('DELETE', path.secureMode(key));
      if (context.json) return printJson(context.io, response);
      return context.io.out(`Secure mode is off in ${key}: client keys may ask about any user again, unsigned\n`);
    }
    const response = await context.api.request<EnvironmentView & { secret: string }>('POST', path.secureMode(key));
    const warning = 'Warning: store this secret now; it will not be shown again. Give it to your application server only, never to browsers or apps.\n';
    if (context.json) {
      printJson(context.io, response);
      return context.io.err(warning);
    }
    context.io.err(
      action === 'on'
        ? `Secure mode is on in ${key}: client keys must send each user key signed with this secret:\n`
        : `Rotated the secure-mode secret of ${key}; the old secret stopped working. The new one:\n`,
    );
    context.io.out(`${response.data.secret}\n`);
    context.io.err(warning);
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

export const adminCommands: readonly Command[] = [envsList, secureMode, tokensCreate, tokensList, tokensRevoke];
