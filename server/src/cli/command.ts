import type { z } from 'zod';
import type { auditEntryResponse } from '../http/audit.routes.js';
import type { flagResponse } from '../http/flags.routes.js';
import type { ArgumentSpec, OptionSpecs, ParsedArgs } from './args.js';
import type { ApiClient, ApiResponse } from './http.js';
import type { Io } from './output.js';

/** Response shapes, inferred from the server's own zod schemas so they cannot drift. */
export type FlagView = z.infer<typeof flagResponse>;
export type AuditEntryView = z.infer<typeof auditEntryResponse>;

/** The routes do not export these schemas; kept to the fields the CLI shows. */
export interface EnvironmentView {
  key: string;
  name: string;
  critical: boolean;
  /** Client keys must send user keys signed with the environment's secret. */
  clientSecureMode: boolean;
  sortOrder: number;
  version: number;
  createdAt: string;
}

export interface TokenView {
  id: number;
  name: string;
  role: 'admin' | 'editor' | 'viewer';
  prefix: string;
  createdAt: string;
  createdBy: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface SdkKeyView {
  id: number;
  name: string;
  kind: 'server' | 'client';
  environment: string;
  prefix: string;
  createdAt: string;
  createdBy: string;
  revokedAt: string | null;
}

export interface CommandContext {
  api: ApiClient;
  io: Io;
  /** `--json`: print the server's response body unchanged instead of the human view. */
  json: boolean;
  /** The positional arguments, already checked against the command's `arguments`. */
  positionals: string[];
  values: ParsedArgs['values'];
}

export interface Command {
  /** The words that select it: `flags list`. */
  name: string;
  summary: string;
  /** Extra paragraphs for `--help`. */
  description?: string;
  arguments: readonly ArgumentSpec[];
  options: OptionSpecs;
  examples: readonly string[];
  run(context: CommandContext): Promise<void>;
}

/** In `--json` mode, the body exactly as the server sent it. */
export function printJson(io: Io, response: ApiResponse<unknown>): void {
  io.out(response.text.endsWith('\n') ? response.text : `${response.text}\n`);
}

export const path = {
  flag: (key: string) => `/api/flags/${encodeURIComponent(key)}`,
  flagEnvironment: (key: string, env: string) => `/api/flags/${encodeURIComponent(key)}/environments/${encodeURIComponent(env)}`,
  secureMode: (env: string) => `/api/environments/${encodeURIComponent(env)}/secure-mode`,
};
