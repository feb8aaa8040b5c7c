import { runClientCommand } from '../cli/commands.js';
// The CLI's view types are inferred from the HTTP routes, which use what the auth plugin declares on
// Fastify (`app.requireRole`, `request.principal`): a project compiling this file from outside the
// server (test/, for the CLI end-to-end test) needs that declaration in its program too.
import type {} from '../http/plugins/auth.js';

/**
 * Running `switchyard` client commands in-process, for tests: what the CLI printed and its exit
 * code, without spawning a process. `runScripted` answers its requests from a script (nothing
 * touches the network), so a test also proves which requests were, and were not, made.
 */

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** `argv` as typed after `switchyard` (`['flags', 'list', '--json']`), with `env` as its environment. */
export async function runCliInProcess(argv: readonly string[], options: { env: NodeJS.ProcessEnv; fetch?: typeof globalThis.fetch }): Promise<CliRun> {
  let out = '';
  let err = '';
  const code = await runClientCommand(argv[0], argv.slice(1), {
    io: { out: (text) => void (out += text), err: (text) => void (err += text) },
    env: options.env,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  return { code, out, err };
}

/** The server the scripted runs point at (SWITCHYARD_URL); never contacted. */
export const SCRIPTED_URL = 'http://sy.test';

export interface ScriptedResponse {
  status: number;
  body: unknown;
}

export interface RecordedCall {
  method: string;
  /** The whole URL, SCRIPTED_URL included. */
  url: string;
  /** The JSON body sent, parsed; undefined without one. */
  body: unknown;
}

export interface ScriptedRun extends CliRun {
  calls: RecordedCall[];
  /** `METHOD /path?query` per request, in order. */
  requests: string[];
}

/**
 * Runs `argv` against a scripted server: the n-th request gets `responses[n]` as JSON; a request
 * beyond the script fails the command (and so the test), naming the URL.
 */
export async function runScripted(argv: readonly string[], responses: readonly ScriptedResponse[] = []): Promise<ScriptedRun> {
  const calls: RecordedCall[] = [];
  const script = [...responses];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    calls.push({ method: init?.method ?? 'GET', url: String(input), body: init?.body ? JSON.parse(String(init.body)) : undefined });
    const next = script.shift();
    if (!next) throw new Error(`unexpected request ${String(input)}`);
    return new Response(JSON.stringify(next.body), { status: next.status });
  };
  const result = await runCliInProcess(argv, { env: { SWITCHYARD_URL: SCRIPTED_URL, SWITCHYARD_TOKEN: 'tok' }, fetch });
  return { ...result, calls, requests: calls.map((call) => `${call.method} ${call.url.slice(SCRIPTED_URL.length)}`) };
}
