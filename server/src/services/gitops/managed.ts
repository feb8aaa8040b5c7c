import { AppError } from '../../domain/errors.js';

/**
 * Which flags and segments a synced Git file manages (`serve --sync`). The services ask it before
 * every write, so every route — API, CLI, dashboard, audit revert — is read-only for them alike.
 */
export class ManagedResources {
  private flags = new Set<string>();
  private segments = new Set<string>();
  private source: string | null = null;

  /** Replace the managed set (after a file was applied). */
  set(source: string, flags: Iterable<string>, segments: Iterable<string>): void {
    this.source = source;
    this.flags = new Set(flags);
    this.segments = new Set(segments);
  }

  managedFlags(): ReadonlySet<string> {
    return this.flags;
  }

  managedSegments(): ReadonlySet<string> {
    return this.segments;
  }

  /** The file that manages this flag, or null: shown as a badge by the dashboard. */
  flagManagedBy(key: string): string | null {
    return this.flags.has(key) ? this.source : null;
  }

  assertFlagWritable(key: string): void {
    if (this.flags.has(key)) throw locked('flag', key, this.source!);
  }

  assertSegmentWritable(key: string): void {
    if (this.segments.has(key)) throw locked('segment', key, this.source!);
  }
}

function locked(what: string, key: string, source: string): AppError {
  return new AppError('locked', `${what} "${key}" is managed by Git (${source}); change it there and commit, the server applies it`, { managedBy: source });
}
