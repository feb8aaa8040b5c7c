import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ApiError, CommandError, UnreachableError, UsageError } from '../errors.js';

/**
 * What the MCP tools answer. A failure is a tool result with `isError` and the server's own
 * message (plus what to do next), never a JSON-RPC error or a crash: the agent reads it and can
 * correct itself.
 */

export function textResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }] };
}

export function errorResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/** A readable headline, a blank line, then the data as compact JSON (agents read it; indentation would only cost tokens). */
export function dataResult(headline: string, data: unknown): CallToolResult {
  return textResult(`${headline}\n\n${JSON.stringify(data)}`);
}

/** What an agent should do after the server refused, by error code. */
const NEXT_STEP: Partial<Record<string, string>> = {
  approval_required:
    'This environment has an approval policy. Call stage_flag again with changeRequest: true to open a change request for reviewers to approve; the kill switch (kill_flag) always works directly.',
  forbidden: "The MCP server acts with its API token's role. Writes need an editor or admin token: set SWITCHYARD_TOKEN in the MCP server's configuration.",
  unauthorized: "Set SWITCHYARD_TOKEN (an API token, created with \"switchyard tokens create\" or in the dashboard) in the MCP server's configuration.",
  version_conflict: 'Someone changed it since it was read: read it again (get_flag), check the change still makes sense, and retry.',
  locked: 'Flags managed by Git change through their file: edit it and commit. The kill switch still works here.',
  validation_failed: 'Fix the argument the message names and call the tool again.',
};

/**
 * Any error thrown while running a tool → a tool error carrying the server's message. `nextSteps`
 * overrides the advice for some codes, for tools whose way forward differs (another tool's argument).
 */
export function toolError(error: unknown, nextSteps: Partial<Record<string, string>> = {}): CallToolResult {
  if (error instanceof ApiError) {
    const lines = [`Switchyard refused the request (HTTP ${error.status}, ${error.code}): ${error.message}`, ...error.details.map((d) => `  ${d}`)];
    const next = nextSteps[error.code] ?? NEXT_STEP[error.code];
    if (next) lines.push(next);
    return errorResult(lines.join('\n'));
  }
  if (error instanceof UsageError) return errorResult(`${error.message}${error.hint ? `\n${error.hint}` : ''}`);
  if (error instanceof UnreachableError || error instanceof CommandError) return errorResult(error.message);
  return errorResult(`unexpected error: ${error instanceof Error ? error.message : String(error)}`);
}
