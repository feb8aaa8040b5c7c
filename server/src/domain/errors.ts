/**
 * The one error type. Only this class knows status codes; the error handler (plugins/errors.ts)
 * turns it into `{ error: { code, message, details? } }`.
 */
const STATUS = {
  bad_request: 400,
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  version_conflict: 409,
  conflict: 409,
  /** A direct write where an approval policy requires a change request (domain/change-requests.ts). */
  approval_required: 409,
  locked: 423,
  precondition_required: 428,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof STATUS;

export interface ErrorDetail {
  path: string;
  message: string;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }

  get statusCode(): number {
    return STATUS[this.code];
  }

  /** Ignored: the code decides the status. (Fastify assigns one to errors from custom validators.) */
  set statusCode(_status: number) {}

  static notFound(what: string, key: string | number): AppError {
    return new AppError('not_found', `${what} "${key}" not found`);
  }

  static invalid(path: string, message: string): AppError {
    return new AppError('validation_failed', `${path}: ${message}`, [{ path, message }] satisfies ErrorDetail[]);
  }

  static versionConflict(what: string, current: number, updatedBy?: string, updatedAt?: string): AppError {
    return new AppError('version_conflict', `${what} was changed by someone else (current version ${current}); reload and retry`, {
      currentVersion: current,
      updatedBy,
      updatedAt,
    });
  }
}
