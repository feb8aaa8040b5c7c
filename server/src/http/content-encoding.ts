import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Response compression without a plugin: the dashboard's files (compressed once, at startup) and
 * large JSON lists (compressed per response). Brotli first — about 12% smaller than gzip on our
 * JavaScript and JSON, and every browser that runs the dashboard accepts it — gzip for the rest.
 */
export const CONTENT_ENCODINGS = ['br', 'gzip'] as const;
export type ContentEncoding = (typeof CONTENT_ENCODINGS)[number];

/** `max`: files compressed once (brotli 11 is ~0.3 s for the dashboard bundle); `fast`: per response (~20 ms for 3 MB of JSON). */
export type CompressionEffort = 'max' | 'fast';

const brotli = promisify(brotliCompress);
const gzipped = promisify(gzip);

/** Below this a response fits a packet or two: compressing it saves next to nothing. */
export const MIN_COMPRESSIBLE_BYTES = 1024;

/**
 * One coding of an Accept-Encoding header and its quality value, e.g. `gzip;q=0.8` (case-insensitive).
 * Applied to trimmed parts: every run of spaces sits between literals, so no input backtracks badly.
 */
const CODING = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?:\s*;\s*q\s*=\s*([0-9.]+))?$/i;

/**
 * The coding to send, from the offered ones, for an Accept-Encoding header (RFC 9110 §12.5.3):
 * the one with the highest quality value above 0, brotli on ties; `*` stands for codings the
 * header does not name; `x-gzip` is gzip. Null: send the identity (no header, nothing acceptable,
 * or a header we cannot read — the identity is always a safe answer).
 */
export function negotiateEncoding(header: string | string[] | undefined, offered: readonly ContentEncoding[] = CONTENT_ENCODINGS): ContentEncoding | null {
  if (header === undefined || offered.length === 0) return null;
  const quality = new Map<string, number>();
  for (const part of (Array.isArray(header) ? header.join(',') : header).split(',')) {
    if (part.trim() === '') continue;
    const m = CODING.exec(part.trim());
    if (!m) continue;
    const q = m[2] === undefined ? 1 : Number(m[2]);
    if (!Number.isFinite(q) || q < 0 || q > 1) continue;
    const name = m[1]!.toLowerCase();
    quality.set(name === 'x-gzip' ? 'gzip' : name, q);
  }
  let best: ContentEncoding | null = null;
  let bestQ = 0;
  // CONTENT_ENCODINGS is in order of preference: a later coding wins only with a higher value.
  for (const encoding of CONTENT_ENCODINGS) {
    if (!offered.includes(encoding)) continue;
    const q = quality.get(encoding) ?? quality.get('*') ?? 0;
    if (q > bestQ) [best, bestQ] = [encoding, q];
  }
  return best;
}

/** `body` compressed with `encoding` (on libuv's thread pool: the event loop keeps serving). */
export function compress(body: Buffer, encoding: ContentEncoding, effort: CompressionEffort): Promise<Buffer> {
  if (encoding === 'gzip') return gzipped(body, { level: effort === 'max' ? constants.Z_BEST_COMPRESSION : constants.Z_DEFAULT_COMPRESSION });
  return brotli(body, {
    params: {
      // Quality 5: as fast as gzip's default on our JSON and smaller; 4 came out larger than gzip.
      [constants.BROTLI_PARAM_QUALITY]: effort === 'max' ? constants.BROTLI_MAX_QUALITY : 5,
      [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
    },
  });
}

/**
 * Send `data` as JSON, compressed when the client accepts it and it is worth it. Every such response
 * says `Vary: Accept-Encoding`, whatever its size, so a cache never hands one client's encoding to another.
 */
export async function sendCompressibleJson(request: FastifyRequest, reply: FastifyReply, data: unknown): Promise<FastifyReply> {
  const body = Buffer.from(JSON.stringify(data));
  void reply.header('vary', 'Accept-Encoding').type('application/json; charset=utf-8');
  const encoding = body.length >= MIN_COMPRESSIBLE_BYTES ? negotiateEncoding(request.headers['accept-encoding']) : null;
  if (!encoding) return reply.send(body);
  return reply.header('content-encoding', encoding).send(await compress(body, encoding, 'fast'));
}
