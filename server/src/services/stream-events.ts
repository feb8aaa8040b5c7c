import type { RuleSetChange } from '../domain/feed.js';

/** The SSE events SDK streams receive, and where their bytes go. */

/**
 * Where a stream's bytes go: a `net.Socket` fits as is. The hub never touches HTTP, so it is tested
 * with plain objects.
 */
export interface StreamSink {
  /** false when the kernel buffer is full and the bytes were queued in user space. */
  write(chunk: Buffer): boolean;
  /** Bytes queued in user space and not yet handed to the kernel. */
  readonly writableLength: number;
  /** Polite close (shutdown): flush, then FIN. */
  end(): void;
  /** Drop now (a slow client): queued bytes are discarded. */
  destroy(): void;
}

/** The serialised current rule set, as `RuleSetCache.json` returns it. */
export interface Snapshot {
  version: number;
  body: string;
}

/** What a connecting client gets first, before any live change. */
export type StreamStart = { kind: 'resume'; frames: Buffer[] } | { kind: 'snapshot'; frames: Buffer[] };

export function patchEvent(change: RuleSetChange): string {
  const data = JSON.stringify({ version: change.version, flags: change.flags, segments: change.segments });
  return `event: patch\nid: ${change.version}\ndata: ${data}\n\n`;
}

export function snapshotEvent(snapshot: Snapshot): string {
  // JSON.stringify never emits a raw newline, so the body is one `data:` line.
  return `event: snapshot\nid: ${snapshot.version}\ndata: ${snapshot.body}\n\n`;
}
