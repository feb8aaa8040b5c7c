import fastifyCookie from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../domain/errors.js';
import { errorResponses } from './responses.js';
import { SESSION_TTL_MS } from '../domain/credentials.js';
import { hashSessionId } from '../domain/secrets.js';
import type { CredentialsService } from '../services/credentials.service.js';

export const SESSION_COOKIE = 'switchyard_session';
/**
 * Cookie-authenticated writes must carry this header. A cross-site form cannot set custom headers
 * and a cross-site fetch with one needs a CORS preflight we never grant: together with
 * SameSite=Strict this blocks CSRF. Bearer-token requests carry no ambient credentials, so skip it.
 */
export const CSRF_HEADER = 'x-switchyard-csrf';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const meResponse = z.object({ name: z.string(), role: z.enum(['admin', 'editor', 'viewer']) });

function requireCsrfHeader(request: FastifyRequest): void {
  if (!SAFE_METHODS.has(request.method) && request.headers[CSRF_HEADER] !== '1') {
    throw new AppError('forbidden', `dashboard requests that change something need the header "X-Switchyard-CSRF: 1"`);
  }
}

function setCookie(request: FastifyRequest, reply: FastifyReply, value: string, maxAgeSeconds: number): void {
  reply.setCookie(SESSION_COOKIE, value, {
    httpOnly: true,
    sameSite: 'strict',
    path: '/',
    secure: request.protocol === 'https',
    maxAge: maxAgeSeconds,
  });
}

/**
 * Session cookie sign-in for the dashboard; registers an authenticator with the auth plugin.
 * The cookie plugin is registered here only: SDK and OFREP traffic never pays for cookie hooks;
 * the authenticator parses the one header itself, and only when a request carries no bearer token.
 */
export const sessionsRoutes: FastifyPluginAsyncZod<{ credentials: CredentialsService }> = async (app, { credentials }) => {
  await app.register(fastifyCookie);
  app.addAuthenticator(async (request) => {
    const header = request.headers.cookie;
    const id = header ? app.parseCookie(header)[SESSION_COOKIE] : undefined;
    if (!id) return null;
    const session = await credentials.session(id);
    if (!session) return null;
    requireCsrfHeader(request);
    return { kind: 'api', tokenId: session.tokenId, name: session.name, role: session.role, sessionHash: hashSessionId(id), sessionEndsAt: Date.now() + session.endsInMs };
  });

  app.post('/api/session', {
    schema: {
      tags: ['sessions'],
      summary: 'Dashboard sign-in: exchange an API token for an httpOnly session cookie',
      body: z.strictObject({ token: z.string().min(1).max(512) }),
      response: { 200: meResponse, ...errorResponses },
    },
  }, async (request, reply) => {
    requireCsrfHeader(request);
    // A wrong token counts against the address like a wrong bearer token (see the auth plugin).
    const { sessionId, token } = await credentials.signIn(request.body.token.trim()).catch(async (error: unknown) => {
      throw error instanceof AppError && error.code === 'unauthorized' ? await app.authenticationFailed(request, reply, error) : error;
    });
    setCookie(request, reply, sessionId, SESSION_TTL_MS / 1000);
    return { name: token.name, role: token.role };
  });

  app.delete('/api/session', {
    schema: { tags: ['sessions'], summary: 'Sign out: end the session and clear its cookie', response: { 204: z.null(), ...errorResponses } },
  }, async (request, reply) => {
    const id = request.cookies[SESSION_COOKIE];
    if (id) {
      requireCsrfHeader(request);
      await credentials.signOut(id);
    }
    setCookie(request, reply, '', 0);
    return reply.status(204).send(null);
  });
};

