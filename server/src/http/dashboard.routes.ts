import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CONTENT_ENCODINGS, compress, negotiateEncoding, type ContentEncoding } from './content-encoding.js';

/**
 * The built dashboard (dashboard/dist), served from memory: the files are read when the server
 * starts and compressed once — brotli at its best quality, gzip — in the background, so no response
 * pays for compression and nothing is written beside the build.
 *
 * Caching follows Vite's layout. Everything under `assets/` is named by its content hash
 * (`index-BaoogH4Q.js`): a new build makes new names, so those files are `immutable` for a year and
 * a browser never asks for them again. `index.html` (and any other unhashed file) is `no-cache`:
 * revalidated on every load — a 304 through its ETag — so a deploy reaches the next page load.
 * Deep links (`/flags/checkout`) get index.html: the dashboard routes in the browser.
 *
 * Files added to the directory after start are not served (as with the static plugin before this):
 * a rebuild of the dashboard needs a restart.
 */

export const IMMUTABLE = 'public, max-age=31536000, immutable';
export const REVALIDATE = 'no-cache';
/** Vite's output directory for content-hashed files. */
const HASHED_DIR = 'assets/';

const TYPES: Record<string, { type: string; compressible: boolean }> = {
  '.html': { type: 'text/html; charset=utf-8', compressible: true },
  '.js': { type: 'text/javascript; charset=utf-8', compressible: true },
  '.mjs': { type: 'text/javascript; charset=utf-8', compressible: true },
  '.css': { type: 'text/css; charset=utf-8', compressible: true },
  '.json': { type: 'application/json; charset=utf-8', compressible: true },
  '.map': { type: 'application/json; charset=utf-8', compressible: true },
  '.webmanifest': { type: 'application/manifest+json; charset=utf-8', compressible: true },
  '.svg': { type: 'image/svg+xml', compressible: true },
  '.txt': { type: 'text/plain; charset=utf-8', compressible: true },
  '.xml': { type: 'application/xml; charset=utf-8', compressible: true },
  '.wasm': { type: 'application/wasm', compressible: true },
  // Already compressed formats: compressing them again only costs time.
  '.png': { type: 'image/png', compressible: false },
  '.jpg': { type: 'image/jpeg', compressible: false },
  '.jpeg': { type: 'image/jpeg', compressible: false },
  '.gif': { type: 'image/gif', compressible: false },
  '.webp': { type: 'image/webp', compressible: false },
  '.avif': { type: 'image/avif', compressible: false },
  '.ico': { type: 'image/x-icon', compressible: true },
  '.woff': { type: 'font/woff', compressible: false },
  '.woff2': { type: 'font/woff2', compressible: false },
};
const UNKNOWN_TYPE = { type: 'application/octet-stream', compressible: false };

/** One file of the build, ready to send. */
interface StaticFile {
  body: Buffer;
  type: string;
  cacheControl: string;
  /** Of the identity bytes; each encoding's ETag adds a suffix (a distinct representation). */
  hash: string;
  /** The encodings that came out smaller than the file, once compressed (for an image: none). */
  encoded: Promise<Partial<Record<ContentEncoding, Buffer>>>;
}

const ETAG_SUFFIX: Record<ContentEncoding, string> = { br: '.br', gzip: '.gz' };
const etagOf = (file: StaticFile, encoding: ContentEncoding | null) => `"${file.hash}${encoding ? ETAG_SUFFIX[encoding] : ''}"`;

/** Every regular file under `dir`, as URL paths (`/assets/index-x.js`); dotfiles are not served. */
async function listFiles(root: string, dir = root): Promise<{ path: string; url: string }[]> {
  const found: { path: string; url: string }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await listFiles(root, path)));
    else if (entry.isFile()) found.push({ path, url: `/${relative(root, path).split(sep).join('/')}` });
  }
  return found;
}

async function loadFile(path: string, url: string, log: FastifyInstance['log']): Promise<StaticFile | undefined> {
  // A build running while the server starts may remove a file between listing and reading it.
  const body = await readFile(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (body === undefined) return undefined;
  const { type, compressible } = TYPES[extname(url).toLowerCase()] ?? UNKNOWN_TYPE;
  const encoded = compressible
    ? Promise.all(CONTENT_ENCODINGS.map(async (encoding) => [encoding, await compress(body, encoding, 'max')] as const))
        .then((all) => Object.fromEntries(all.filter(([, bytes]) => bytes.length < body.length)))
        .catch((error: unknown) => {
          log.warn({ err: error, file: url }, 'compressing a dashboard file failed; it is served uncompressed');
          return {};
        })
    : Promise.resolve({});
  return {
    body,
    type,
    cacheControl: url.startsWith(`/${HASHED_DIR}`) ? IMMUTABLE : REVALIDATE,
    hash: createHash('sha256').update(body).digest('base64url').slice(0, 22),
    encoded,
  };
}

/** Whether an If-None-Match header names this file in any of its encodings (weak comparison, RFC 9110 §13.1.2). */
function notModified(header: string | undefined, file: StaticFile): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const tags = header.split(',').map((tag) => tag.trim().replace(/^W\//, ''));
  return [null, ...CONTENT_ENCODINGS].some((encoding) => tags.includes(etagOf(file, encoding)));
}

async function sendFile(request: FastifyRequest, reply: FastifyReply, file: StaticFile): Promise<FastifyReply> {
  const encoded = await file.encoded;
  const offered = Object.keys(encoded) as ContentEncoding[];
  const encoding = negotiateEncoding(request.headers['accept-encoding'], offered);
  void reply.header('cache-control', file.cacheControl).header('etag', etagOf(file, encoding)).type(file.type);
  // Only a file with compressed forms varies; a cache must then keep one response per encoding.
  if (offered.length > 0) void reply.header('vary', 'Accept-Encoding');
  if (notModified(request.headers['if-none-match'], file)) return reply.status(304).send();
  if (encoding) void reply.header('content-encoding', encoding);
  return reply.send(encoding ? encoded[encoding] : file.body);
}

/** Paths that are never the dashboard: a miss there is a plain 404, not index.html. */
const NOT_DASHBOARD = /^\/(api|ofrep|docs|openapi\.json|metrics)(\/|$)/;

/** Serves the dashboard build in `root`; without its index.html (no build, or one under way) the API runs without it. */
export async function dashboardRoutes(app: FastifyInstance, { root }: { root: string }): Promise<void> {
  const files = new Map<string, StaticFile>();
  for (const { path, url } of await listFiles(root)) {
    const file = await loadFile(path, url, app.log);
    if (file) files.set(url, file);
  }
  const index = files.get('/index.html');
  if (!index) {
    app.log.warn({ dashboardDir: root }, 'no index.html in the dashboard directory: the dashboard is not served (build it and restart)');
    return;
  }

  app.get('/*', { schema: { hide: true } }, async (request, reply) => {
    const path = request.url.split('?')[0]!;
    const file = path === '/' ? index : files.get(path);
    if (file) return sendFile(request, reply, file);
    // Deep links (/flags/x) get index.html; API-ish paths and missing files stay 404.
    if (NOT_DASHBOARD.test(path) || /\.[a-z0-9]+$/i.test(path)) {
      return reply.status(404).send({ error: { code: 'not_found', message: `no route GET ${path}` } });
    }
    return sendFile(request, reply, index);
  });
}
