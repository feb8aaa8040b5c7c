import { SwitchyardError } from '../errors.js';
import type { Clock } from '../options.js';

/**
 * Settles like `request`, or rejects with a `TIMEOUT` SwitchyardError after `ms` on `clock` (the
 * injected one, so tests need no real time) and aborts `controller` to release the connection. It
 * races rather than only aborting: a `fetch` that ignores its signal still cannot hang the caller.
 */
export function withTimeout<T>(clock: Clock, ms: number, controller: AbortController, what: string, request: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(() => {
      reject(new SwitchyardError('TIMEOUT', `${what}: no answer within ${ms} ms`));
      controller.abort();
    }, ms);
    // The request keeps a process alive while it runs; its timeout need not.
    (timer as { unref?: () => void } | undefined)?.unref?.();
    request.then(resolve, reject).finally(() => clock.clearTimeout(timer));
  });
}
