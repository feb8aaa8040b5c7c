import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { LIMITS } from '../domain/flags.js';
import { auditContext, iso } from './request-context.js';
import { errorResponses, rowIdSchema } from './responses.js';
import { SDK_KEY_KINDS, type ApiToken, type SdkKey } from '../domain/credentials.js';
import type { CredentialsService } from '../services/credentials.service.js';

const roleSchema = z.enum(['admin', 'editor', 'viewer']);
const nameSchema = z.string().min(1).max(LIMITS.name);

const tokenResponse = z.object({
  id: z.int(),
  name: z.string(),
  role: roleSchema,
  prefix: z.string(),
  createdAt: z.string(),
  createdBy: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
const sdkKeyResponse = z.object({
  id: z.int(),
  name: z.string(),
  kind: z.enum(SDK_KEY_KINDS).describe('server: secret, reads rule sets; client: public, evaluated values of client-visible flags only'),
  environment: z.string(),
  prefix: z.string(),
  createdAt: z.string(),
  createdBy: z.string(),
  revokedAt: z.string().nullable(),
});

const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));
const toToken = (t: ApiToken) => ({ ...t, createdAt: iso(t.createdAt), lastUsedAt: isoOrNull(t.lastUsedAt), revokedAt: isoOrNull(t.revokedAt) });
const toSdkKey = (k: SdkKey) => ({ ...k, createdAt: iso(k.createdAt), revokedAt: isoOrNull(k.revokedAt) });
const idParams = z.strictObject({ id: rowIdSchema });

/** API tokens and SDK keys. The secret is in the creation response only; we keep its sha-256. */
export const tokensRoutes: FastifyPluginAsyncZod<{ credentials: CredentialsService }> = async (app, { credentials }) => {
  app.get('/api/me', {
    schema: { tags: ['tokens'], summary: 'Who the credentials belong to', response: { 200: z.object({ name: z.string(), role: roleSchema }), ...errorResponses } },
    onRequest: app.requireRole('viewer'),
  }, async (request) => {
    const p = request.principal!;
    return p.kind === 'api' ? { name: p.name, role: p.role } : { name: p.name, role: 'viewer' as const };
  });

  app.get('/api/tokens', {
    schema: { tags: ['tokens'], summary: 'List API tokens (never their secrets)', response: { 200: z.object({ items: z.array(tokenResponse) }), ...errorResponses } },
    onRequest: app.requireRole('admin'),
  }, async () => ({ items: (await credentials.listTokens()).map(toToken) }));

  app.post('/api/tokens', {
    schema: {
      tags: ['tokens'],
      summary: 'Create an API token; the secret is shown once',
      body: z.strictObject({ name: nameSchema, role: roleSchema }),
      response: { 201: tokenResponse.extend({ token: z.string().describe('Shown once: store it now') }), ...errorResponses },
    },
    onRequest: app.requireRole('admin'),
  }, async (request, reply) => {
    const { secret, ...token } = await credentials.createToken(request.body, auditContext(request));
    return reply.status(201).send({ ...toToken(token), token: secret });
  });

  app.delete('/api/tokens/:id', {
    schema: { tags: ['tokens'], summary: 'Revoke an API token', params: idParams, response: { 200: tokenResponse, ...errorResponses } },
    onRequest: app.requireRole('admin'),
  }, async (request) => {
    return toToken(await credentials.revokeToken(request.params.id, auditContext(request)));
  });

  app.get('/api/sdk-keys', {
    schema: { tags: ['tokens'], summary: 'List SDK keys (never their secrets)', response: { 200: z.object({ items: z.array(sdkKeyResponse) }), ...errorResponses } },
    onRequest: app.requireRole('admin'),
  }, async () => ({ items: (await credentials.listSdkKeys()).map(toSdkKey) }));

  app.post('/api/sdk-keys', {
    schema: {
      tags: ['tokens'],
      summary: 'Create a read-only SDK key for one environment (server, or public client key for browsers); the secret is shown once',
      body: z.strictObject({
        name: nameSchema,
        environment: z.string().min(1).max(LIMITS.key),
        kind: z.enum(SDK_KEY_KINDS).default('server').describe('server (default): secret, for server-side SDKs; client: public, for browsers and mobile apps (evaluated values of client-visible flags only)'),
      }),
      response: { 201: sdkKeyResponse.extend({ key: z.string().describe('Shown once: store it now') }), ...errorResponses },
    },
    onRequest: app.requireRole('admin'),
  }, async (request, reply) => {
    const { secret, ...key } = await credentials.createSdkKey(request.body, auditContext(request));
    return reply.status(201).send({ ...toSdkKey(key), key: secret });
  });

  app.delete('/api/sdk-keys/:id', {
    schema: { tags: ['tokens'], summary: 'Revoke an SDK key', params: idParams, response: { 200: sdkKeyResponse, ...errorResponses } },
    onRequest: app.requireRole('admin'),
  }, async (request) => {
    return toSdkKey(await credentials.revokeSdkKey(request.params.id, auditContext(request)));
  });
};
