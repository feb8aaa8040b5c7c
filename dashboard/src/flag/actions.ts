import type { ApiError } from '../api/client.js';
import type { ApprovalPolicy, ChangeRequest, ConflictDetails } from '../api/types.js';
import type { ConfirmRequest } from '../components/ConfirmDialog.js';

/**
 * The outcome of the last write on the flag page, shown where it happened (next to the form or
 * button that made it), never only at the top of a long page. `seq` changes with every outcome.
 */
export type ActionFeedback = ActionOutcome & { seq: number; scope: string };
export type ActionOutcome =
  | { kind: 'success' | 'error'; text: string }
  | { kind: 'conflict'; conflict: ConflictDetails }
  /** A change request was opened (and, with an admin bypass, maybe applied): the text links to it. */
  | { kind: 'request'; request: Pick<ChangeRequest, 'id' | 'title' | 'status'>; text: string; failed?: boolean };

/** What the flag page gives its sections: one way to write (busy, 409 and errors handled alike). */
export interface FlagActions {
  busy: boolean;
  /**
   * Run a write; on success the section shows `label` (or what `label` makes of the write's result:
   * the updated flag, when the write returns one), a conflict banner on 409, errors otherwise.
   */
  run(label: string | ((result: unknown) => string), action: () => Promise<unknown>): Promise<{ ok: boolean; error?: ApiError }>;
  /**
   * Open a change request instead of writing (where a policy governs the environment) and show a
   * link to it; with `bypassReason` (an admin, where the policy allows it) apply it at once.
   */
  propose(label: (request: ChangeRequest) => string, create: () => Promise<ChangeRequest>, bypassReason?: string): Promise<{ ok: boolean; request?: ChangeRequest; error?: ApiError }>;
  /** The approval policy of the page's environment when one is required there, else undefined. */
  policy?: ApprovalPolicy;
  /** The strictest required policy over every environment: what a segment edit falls under. */
  segmentPolicy?: Pick<ApprovalPolicy, 'required' | 'approvals' | 'adminBypass'> & { environments: string[] };
  confirm(request: ConfirmRequest): void;
  reloadSegments(): Promise<void>;
  /** The last outcome when it belongs to this section (rendered by `<ActionMessage>`), else undefined. */
  feedback?: ActionFeedback;
  /** After a 409: drop the outcome and load the latest flag and segments. */
  reloadLatest?(): void;
}
