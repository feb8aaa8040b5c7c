import type { ApiError } from '../api/client.js';
import type { ConfirmRequest } from '../components/ConfirmDialog.js';

/** What the flag page gives its sections: one way to write (busy, 409 and errors handled alike). */
export interface FlagActions {
  busy: boolean;
  /** Run a write; the page shows `label` on success, a conflict banner on 409, errors otherwise. */
  run(label: string, action: () => Promise<unknown>): Promise<{ ok: boolean; error?: ApiError }>;
  confirm(request: ConfirmRequest): void;
  reloadSegments(): Promise<void>;
}
