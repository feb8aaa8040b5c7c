import type { ApiError } from '../api/client.js';
import type { ConflictDetails } from '../api/types.js';
import type { ConfirmRequest } from '../components/ConfirmDialog.js';

/**
 * The outcome of the last write on the flag page, shown where it happened (next to the form or
 * button that made it), never only at the top of a long page. `seq` changes with every outcome.
 */
export type ActionFeedback = ActionOutcome & { seq: number; scope: string };
export type ActionOutcome = { kind: 'success' | 'error'; text: string } | { kind: 'conflict'; conflict: ConflictDetails };

/** What the flag page gives its sections: one way to write (busy, 409 and errors handled alike). */
export interface FlagActions {
  busy: boolean;
  /**
   * Run a write; on success the section shows `label` (or what `label` makes of the write's result:
   * the updated flag, when the write returns one), a conflict banner on 409, errors otherwise.
   */
  run(label: string | ((result: unknown) => string), action: () => Promise<unknown>): Promise<{ ok: boolean; error?: ApiError }>;
  confirm(request: ConfirmRequest): void;
  reloadSegments(): Promise<void>;
  /** The last outcome when it belongs to this section (rendered by `<ActionMessage>`), else undefined. */
  feedback?: ActionFeedback;
  /** After a 409: drop the outcome and load the latest flag and segments. */
  reloadLatest?(): void;
}
