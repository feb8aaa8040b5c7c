import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { booleanOption, expectArguments, parseCommandArgs, stringOption, type OptionSpecs } from '../args.js';
import { EXIT, UsageError } from '../errors.js';
import { createApiClient, resolveBaseUrl, type ApiClient } from '../http.js';
import { cliVersion } from '../version.js';
import { MCP_HELP } from './help.js';
import { registerReadTools } from './read-tools.js';
import { registerReleaseTools } from './release-tools.js';
import { registerWriteTools } from './write-tools.js';

/**
 * `switchyard mcp`: a Model Context Protocol server on stdio, for coding agents. It holds no
 * rights of its own: every tool is a call to the REST API with the configured API token, so the
 * server enforces that token's role (a viewer token can read, never write), approval policies and
 * Git locks, and audits each change with the source `mcp`.
 */

const OPTIONS: OptionSpecs = {};

const INSTRUCTIONS =
  'Switchyard is a feature-flag service. Flags have variations and, per environment (list_environments), a release stage: off → dogfood → N% → 100%, or kill. ' +
  'Read before you write (list_flags, get_flag), use dryRun: true on a write to see what it would change, and give a message saying why: it goes to the audit log. ' +
  'In environments with an approval policy, stage changes go through a change request (stage_flag with changeRequest: true), and so do starting and resuming a saved release plan (start_release_plan / resume_release_plan with requestTitle); kill_flag always works directly. ' +
  "Everything runs with the configured API token's role.";

/** The MCP server with every tool, talking to Switchyard through `api`. Not connected to a transport. */
export function createMcpServer(api: ApiClient, version: string = cliVersion()): McpServer {
  const server = new McpServer({ name: 'switchyard', title: 'Switchyard feature flags', version }, { instructions: INSTRUCTIONS });
  registerReadTools(server, api);
  registerWriteTools(server, api);
  registerReleaseTools(server, api);
  return server;
}

/** `switchyard mcp …` (the arguments after `mcp`): serve until the client closes stdin. Returns the exit code. */
export async function runMcp(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let api: ApiClient;
  try {
    const parsed = parseCommandArgs(args, OPTIONS, 'mcp');
    if (booleanOption(parsed.values, 'help')) {
      process.stdout.write(MCP_HELP);
      return EXIT.ok;
    }
    expectArguments(parsed, [], 'mcp');
    api = createApiClient({
      baseUrl: resolveBaseUrl(stringOption(parsed.values, 'url'), env),
      token: stringOption(parsed.values, 'token') ?? (env.SWITCHYARD_TOKEN || undefined),
      version: cliVersion(),
      source: 'mcp',
    });
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`switchyard: ${error.message}\n${error.hint ? `${error.hint}\n` : ''}`);
      return EXIT.usage;
    }
    throw error;
  }
  const server = createMcpServer(api);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    // The client went away (closed our stdin): nothing more will come.
    process.stdin.once('end', () => void server.close().then(resolve, resolve));
  });
  await server.connect(transport);
  // stdout carries the protocol: anything for people goes to stderr.
  process.stderr.write(`switchyard mcp: serving tools on stdio for ${api.baseUrl}${env.SWITCHYARD_TOKEN || args.includes('--token') ? '' : ' (no API token: set SWITCHYARD_TOKEN)'}\n`);
  await closed;
  return EXIT.ok;
}
