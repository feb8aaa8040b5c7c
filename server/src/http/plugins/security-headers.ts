import helmet from '@fastify/helmet';
import Fastify, { type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { isSdkPath } from './sdk-cors.js';

/**
 * The dashboard is one origin's static files: scripts, styles, fonts and fetches from 'self' only,
 * nothing inline (no 'unsafe-inline': an injected <script> or style attribute does not run), never
 * framed (clickjacking). No upgrade-insecure-requests: a server reached over plain HTTP on a LAN
 * address would lose its own scripts.
 */
const DIRECTIVES = {
  defaultSrc: ["'self'"],
  baseUri: ["'self'"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  imgSrc: ["'self'", 'data:'],
  objectSrc: ["'none'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'"],
};

/**
 * The Swagger UI at /docs: the same policy, except that its bundle injects one fixed <style>
 * element, allowed by its hash (not 'unsafe-inline'). A Swagger UI upgrade that changes it shows
 * up as a CSP violation in test/browser/csp.test.ts.
 */
const SWAGGER_UI_STYLE_HASH = "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='";
const DOCS_DIRECTIVES = { ...DIRECTIVES, styleSrc: ["'self'", SWAGGER_UI_STYLE_HASH] };

const isDocsPath = (url: string) => url === '/docs' || url.startsWith('/docs/') || url.startsWith('/docs?');

/** Headers of a probe response that are not helmet's. */
const NOT_HELMET = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive']);

/** What @fastify/helmet sets with these CSP directives (and its other defaults), read off one probe response. */
async function helmetHeaders(directives: typeof DIRECTIVES): Promise<Record<string, string>> {
  const probe = Fastify();
  await probe.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
  });
  probe.get('/', async () => '');
  const response = await probe.inject({ method: 'GET', url: '/' });
  await probe.close();
  return Object.fromEntries(Object.entries(response.headers).filter(([name]) => !NOT_HELMET.has(name)).map(([name, value]) => [name, String(value)]));
}

/** Computed once per process: the policies are constants. */
let computed: Promise<{ pages: Record<string, string>; docs: Record<string, string> }> | undefined;

/**
 * Security headers (helmet's: CSP, nosniff, frame and referrer policy, HSTS over https, …) on the
 * dashboard, the management API and /docs — including errors and 404s.
 *
 * @fastify/helmet builds its middleware on every request (~35 µs of CPU per request, measured),
 * for headers that never change: they are taken from it once and set per request. SDK and OFREP
 * routes (JSON and streams for SDKs, the hottest paths) get only nosniff, from the CORS plugin.
 * Hijacked responses (SSE) copy them from `reply.getHeaders()`.
 */
export const securityHeadersPlugin = fp(
  async (app: FastifyInstance) => {
    const { pages, docs } = await (computed ??= Promise.all([helmetHeaders(DIRECTIVES), helmetHeaders(DOCS_DIRECTIVES)]).then(([pages, docs]) => ({ pages, docs })));
    app.addHook('onRequest', (request, reply, done) => {
      if (!isSdkPath(request.url)) void reply.headers(isDocsPath(request.url) ? docs : pages);
      done();
    });
  },
  { name: 'security-headers' },
);
