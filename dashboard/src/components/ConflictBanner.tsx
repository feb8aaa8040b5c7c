import type { ConflictDetails } from '../api/types.js';
import { absoluteTime } from '../logic/time.js';
import { Banner } from './Banner.js';

/** A stale write (409): say who changed it and when, offer a reload; never overwrite silently. */
export function ConflictBanner({ conflict, what, onReload }: { conflict: ConflictDetails; what: string; onReload(): void }) {
  const who = conflict.updatedBy || 'someone else';
  const when = conflict.updatedAt ? absoluteTime(conflict.updatedAt) : 'just now';
  return (
    <Banner kind="warning">
      <span class="conflict-message">
        This {what} was changed by {who} at {when}. Your change was not saved.
      </span>{' '}
      <button type="button" class="button" onClick={onReload}>
        Reload latest
      </button>
    </Banner>
  );
}
