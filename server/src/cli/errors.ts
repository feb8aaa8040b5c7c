/** Exit codes scripts can rely on. */
export const EXIT = {
  ok: 0,
  /** The server (or a check against its data) rejected the request. */
  rejected: 1,
  /** The command was typed wrong: unknown command or flag, missing argument. */
  usage: 2,
  /** No answer from the server. */
  unreachable: 3,
} as const;

/** A mistake in how the command was typed: exit code 2, with a hint on how to get it right. */
export class UsageError extends Error {
  readonly hint: string | undefined;

  constructor(message: string, hint?: string) {
    super(message);
    this.name = 'UsageError';
    this.hint = hint;
  }
}

/** The server answered with an error: exit code 1, showing the server's own message. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** The response body as sent, for `--json`. */
  readonly body: string;
  /** Every problem the server listed (validation errors), when there is more than one. */
  readonly details: readonly string[];

  constructor(status: number, code: string, message: string, body: string, details: readonly string[] = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.body = body;
    this.details = details;
  }
}

/** A request that makes no sense against the server's data (e.g. an unknown environment): exit code 1. */
export class CommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandError';
  }
}

/** No answer from the server at all: exit code 3. */
export class UnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnreachableError';
  }
}
