/** What went wrong while fetching rules. `UNAUTHORIZED` is final: the client stops retrying. */
export type SwitchyardErrorCode = 'UNAUTHORIZED' | 'HTTP' | 'NETWORK' | 'TIMEOUT' | 'INVALID_DATA';

/**
 * The error emitted with the client's `error` event.
 * @example client.on('error', (e) => { if (e.code === 'UNAUTHORIZED') alert('bad SDK key') })
 */
export class SwitchyardError extends Error {
  override readonly name = 'SwitchyardError';
  /** How long the server asked the client to wait before retrying (`Retry-After`), in ms. */
  declare retryAfterMs?: number;

  declare readonly code: SwitchyardErrorCode;
  /** HTTP status, when the server answered. */
  declare readonly status?: number;

  constructor(code: SwitchyardErrorCode, message: string, status?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = status;
  }
}
