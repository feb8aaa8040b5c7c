import { adminCommands } from './admin.js';
import { closest, expectArguments, parseCommandArgs, splitCommandWords, stringOption, booleanOption } from './args.js';
import { auditCommands } from './audit.js';
import { codeRefsCommand } from './code-refs.js';
import type { Command } from './command.js';
import { ApiError, CommandError, EXIT, UnreachableError, UsageError } from './errors.js';
import { flagCommands } from './flags.js';
import { CHANGES_PENDING_EXIT, ChangesPending, gitopsCommands } from './gitops.js';
import { COPY_HELP, DB_HELP } from './db-help.js';
import { commandHelp, groupHelp, topHelp } from './help.js';
import { createApiClient, resolveBaseUrl } from './http.js';
import { MCP_HELP } from './mcp/help.js';
import { processIo, type Io } from './output.js';
import { promoteCommands } from './promote.js';
import { releasePlanCommands } from './release-plans.js';
import { requestCommands } from './requests.js';
import { scheduleCommands } from './schedule.js';
import { sdkKeyCommands } from './sdk-keys.js';
import { cliVersion } from './version.js';

export const COMMANDS: readonly Command[] = [...flagCommands, ...adminCommands, ...sdkKeyCommands, ...auditCommands, ...gitopsCommands, ...promoteCommands, ...releasePlanCommands, ...scheduleCommands, ...requestCommands, codeRefsCommand];

/** Groups whose commands are two words (`flags list`); `audit` is one. */
const GROUPS_WITH_SUBCOMMANDS = new Set(COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0]!));
const COMMAND_WORDS = [...new Set(['help', 'version', 'serve', 'db', 'mcp', ...COMMANDS.map((c) => c.name.split(' ')[0]!)])];

export interface RunOptions {
  io?: Io;
  env?: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
}

/** Client commands (flags, envs, tokens, sdk-keys, audit) talk to a running server over the REST API. Returns the exit code. */
export async function runClientCommand(command: string | undefined, args: string[], options: RunOptions = {}): Promise<number> {
  const io = options.io ?? processIo;
  const argv = command === undefined ? args : [command, ...args];
  try {
    await dispatch(argv, io, options);
    return EXIT.ok;
  } catch (error) {
    return report(error, io, argv.includes('--json'), options.env ?? process.env);
  }
}

function maxWords(first: string): number {
  if (first === 'help') return 3;
  return GROUPS_WITH_SUBCOMMANDS.has(first) ? 2 : 1;
}

async function dispatch(argv: readonly string[], io: Io, options: RunOptions): Promise<void> {
  const { words, rest } = splitCommandWords(argv, maxWords);
  const wantsHelp = rest.includes('--help') || rest.includes('-h');
  const [first, ...more] = words;
  if (first === undefined) {
    if (rest.includes('--version') || rest.includes('-V')) return io.out(`switchyard ${cliVersion()}\n`);
    if (wantsHelp) return io.out(topHelp(COMMANDS, cliVersion()));
    io.err(topHelp(COMMANDS, cliVersion()));
    throw new UsageError('missing command');
  }
  if (first === 'version') return io.out(`switchyard ${cliVersion()}\n`);
  if (first === 'help') return io.out(helpFor(more));
  if (GROUPS_WITH_SUBCOMMANDS.has(first) && more.length === 0) {
    if (wantsHelp) return io.out(groupHelp(first, COMMANDS));
    const subcommands = COMMANDS.filter((c) => c.name.startsWith(`${first} `)).map((c) => c.name.slice(first.length + 1));
    throw new UsageError(`missing command after "${first}": one of ${subcommands.join(', ')}`, `Run "switchyard ${first} --help" for details.`);
  }
  const command = findCommand(words);
  const parsed = parseCommandArgs(rest, command.options, command.name);
  if (booleanOption(parsed.values, 'help')) return io.out(commandHelp(command));
  const positionals = expectArguments(parsed, command.arguments, command.name);
  const env = options.env ?? process.env;
  const api = createApiClient({
    baseUrl: resolveBaseUrl(stringOption(parsed.values, 'url'), env),
    token: stringOption(parsed.values, 'token') ?? (env.SWITCHYARD_TOKEN || undefined),
    version: cliVersion(),
    fetch: options.fetch,
  });
  await command.run({ api, io, json: booleanOption(parsed.values, 'json'), positionals, values: parsed.values });
}

function findCommand(words: readonly string[]): Command {
  const name = words.join(' ');
  const command = COMMANDS.find((c) => c.name === name);
  if (command) return command;
  if (words[0] === 'serve') throw new UsageError('"serve" takes no subcommand', 'Run "switchyard serve --port 4242".');
  const group = words[0]!;
  if (GROUPS_WITH_SUBCOMMANDS.has(group)) {
    const subcommands = COMMANDS.filter((c) => c.name.startsWith(`${group} `)).map((c) => c.name.slice(group.length + 1));
    const suggestion = closest(words[1]!, subcommands);
    throw new UsageError(`unknown command "${name}"${suggestion ? ` (did you mean "${group} ${suggestion}"?)` : ''}`, `Commands: ${subcommands.map((s) => `${group} ${s}`).join(', ')}.`);
  }
  const suggestion = closest(group, COMMAND_WORDS);
  throw new UsageError(`unknown command "${group}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`, 'Run "switchyard help" for the list of commands.');
}

function helpFor(words: readonly string[]): string {
  if (words.length === 0) return topHelp(COMMANDS, cliVersion());
  // `db` works on databases directly (cli/db.ts), not through the server: its own help.
  if (words[0] === 'db') return words[1] === 'copy' ? COPY_HELP : DB_HELP;
  if (words[0] === 'mcp') return MCP_HELP;
  if (words.length === 1 && GROUPS_WITH_SUBCOMMANDS.has(words[0]!)) return groupHelp(words[0]!, COMMANDS);
  return commandHelp(findCommand(words));
}

function report(error: unknown, io: Io, json: boolean, env: NodeJS.ProcessEnv): number {
  if (error instanceof ChangesPending) return CHANGES_PENDING_EXIT;
  if (error instanceof UsageError) {
    io.err(`switchyard: ${error.message}\n${error.hint ? `${error.hint}\n` : ''}`);
    return EXIT.usage;
  }
  if (error instanceof ApiError) {
    // Scripts asked for JSON: give them the server's error body too, to read `.error.code`.
    if (json && error.body.trim().startsWith('{')) io.out(error.body.endsWith('\n') ? error.body : `${error.body}\n`);
    io.err(`switchyard: ${error.message}\n${error.details.map((d) => `  ${d}\n`).join('')}`);
    return EXIT.rejected;
  }
  if (error instanceof CommandError) {
    io.err(`switchyard: ${error.message}\n`);
    return EXIT.rejected;
  }
  if (error instanceof UnreachableError) {
    io.err(`switchyard: ${error.message}\n`);
    return EXIT.unreachable;
  }
  // A bug, not an expected failure: say so briefly; the stack only on request.
  const detail = error instanceof Error ? (env.SWITCHYARD_DEBUG ? (error.stack ?? error.message) : error.message) : String(error);
  io.err(`switchyard: unexpected error: ${detail}\n(set SWITCHYARD_DEBUG=1 for details)\n`);
  return EXIT.rejected;
}
