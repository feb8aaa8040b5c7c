import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * The SDK endpoints (rules, stream, metrics, OFREP): cross-origin, bearer SDK keys only. Asked
 * several times per request (hooks, logger), so two plain prefix checks rather than a list walk.
 */
export const isSdkPath = (url: string) => url.startsWith('/ofrep/') || url.startsWith('/api/sdk/');

/** What every SDK-path answer carries: any origin, the headers a browser SDK reads, and the one security header JSON/SSE needs. */
export const SDK_RESPONSE_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'ETag, WWW-Authenticate, Retry-After',
  'x-content-type-options': 'nosniff',
} as const;

/**
 * Browser SDKs run on the application's origin, not ours: the SDK endpoints (rules, stream,
 * metrics, OFREP) accept cross-origin requests. They authenticate with a bearer SDK key, never a
 * cookie, so allowing any origin grants nothing a page could not already do with the key.
 * The management API and the dashboard stay same-origin.
 */
export const sdkCorsPlugin = fp(
  async (app: FastifyInstance) => {
    // Callback-style hooks: no promise per request on the hottest paths.
    app.addHook('onRequest', (request, reply, done) => {
      if (!isSdkPath(request.url)) return done();
      // nosniff is the one security header these JSON/SSE answers need (helmet skips them: see app.ts).
      void reply.headers(SDK_RESPONSE_HEADERS);
      if (request.method !== 'OPTIONS') return done();
      reply
        .header('access-control-allow-methods', 'GET, POST, OPTIONS')
        .header('access-control-allow-headers', 'Authorization, Content-Type, If-None-Match, Last-Event-ID')
        .header('access-control-max-age', '86400');
      void reply.status(204).send();
    });
  },
  { name: 'sdk-cors' },
);
