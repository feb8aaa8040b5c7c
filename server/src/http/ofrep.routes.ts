import { createHash } from 'node:crypto';
import type { EvaluationContext } from '@switchyard/sdk';
import { evaluateCompiled } from '@switchyard/sdk/ruleset';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../domain/errors.js';
import type { RuleSetCache } from '../services/rulesets.js';
import { isMalformedJson, requestErrorMessage } from './plugins/errors.js';
import { SDK_ROUTE_LOG_LEVEL } from './request-context.js';

/**
 * OpenFeature Remote Evaluation Protocol (OFREP v1) for scripts and other languages, evaluated with
 * the SDK's own `evaluate` on the in-memory rule set. Authenticated with an SDK key, which fixes
 * the environment.
 */

/**
 * Bounds on one evaluation context. SDK keys are public, so these bound what one request can make
 * the evaluator do: every `matches` and list clause of every flag looks at every string, and a bulk
 * request evaluates every flag. A real context is a few hundred bytes. Attributes are counted over
 * the whole tree (nested objects included).
 */
const MAX_ATTRIBUTES = 200;
const MAX_STRING = 1024;
const MAX_ARRAY = 100;
/** Nested objects: attribute paths of at most this many names (`a.b.c` is 3). */
const MAX_DEPTH = 8;
const MAX_NAME = 200;
/** Request bodies of remote evaluation: 100 attributes at the longest string fit; a flood does not. */
const OFREP_BODY_LIMIT = 64 * 1024;

const scalarSchema = z.union([z.string().max(MAX_STRING), z.number(), z.boolean(), z.null()]);
const contextSchema = z
  .record(
    z.string().max(MAX_NAME),
    z.union([
      scalarSchema,
      z.array(z.union([z.string().max(MAX_STRING), z.number(), z.boolean()])).max(MAX_ARRAY),
      z.record(z.string().max(MAX_NAME), z.unknown()).describe(`Nested attributes (the same value rules, paths up to ${MAX_DEPTH} names); rules address them by dot path, e.g. \`company.plan\``),
    ]),
  )
  .describe(`Evaluation context; a non-empty \`targetingKey\` is the user ID (it wins over a \`userId\` attribute). At most ${MAX_ATTRIBUTES} attributes in all.`);

const requestBody = z.strictObject({ context: contextSchema.default({}) });

const success = z.object({
  key: z.string(),
  value: z.unknown(),
  reason: z.string(),
  variant: z.string().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});
/** OFREP's error codes; every OFREP error answers in this shape (401/403/429 have no body, as OFREP specifies). */
type OfrepErrorCode = 'PARSE_ERROR' | 'TARGETING_KEY_MISSING' | 'INVALID_CONTEXT' | 'GENERAL' | 'FLAG_NOT_FOUND' | 'TYPE_MISMATCH';
const failure = z.object({ key: z.string().optional(), errorCode: z.string(), errorDetails: z.string().optional() });

/**
 * OpenFeature calls the unit ID `targetingKey`; Switchyard buckets by `userId` by default. One
 * rule, shared with the SDK's OpenFeature provider: a non-empty `targetingKey` becomes `userId`
 * and wins over a `userId` attribute; `targetingKey: ""` is no key. Fills `userId` in place: the
 * context is this request's freshly parsed body.
 */
export function toEvaluationContext(context: Record<string, unknown>): EvaluationContext {
  if (typeof context.targetingKey === 'string' && context.targetingKey !== '') context.userId = context.targetingKey;
  return context as EvaluationContext;
}

// Hot path: serialise with JSON.stringify (the schemas above still document the responses).
const fastSerializer = () => (data: unknown) => JSON.stringify(data);

const isScalar = (v: unknown) => (typeof v === 'string' ? v.length <= MAX_STRING : typeof v === 'number' ? Number.isFinite(v) : typeof v === 'boolean');

/** Checks one object of attributes (recursively); returns the error or the new attribute count. */
function checkAttributes(object: object, path: string, depth: number, count: number): AppError | number {
  for (const name in object) {
    if (++count > MAX_ATTRIBUTES) return AppError.invalid('body.context', `at most ${MAX_ATTRIBUTES} attributes (nested ones included)`);
    if (name.length > MAX_NAME) return AppError.invalid(path, `attribute names are at most ${MAX_NAME} characters`);
    const value = (object as Record<string, unknown>)[name];
    if (value === null || isScalar(value) || (Array.isArray(value) && value.length <= MAX_ARRAY && value.every(isScalar))) continue;
    if (typeof value !== 'object' || Array.isArray(value)) {
      return AppError.invalid(`${path}.${name}`, `expected a string (≤ ${MAX_STRING} characters), finite number, boolean, null, an array of those (≤ ${MAX_ARRAY}) or an object of attributes`);
    }
    if (depth >= MAX_DEPTH) return AppError.invalid(`${path}.${name}`, `nested more than ${MAX_DEPTH} levels deep`);
    const nested = checkAttributes(value, `${path}.${name}`, depth + 1, count);
    if (typeof nested !== 'number') return nested;
    count = nested;
  }
  return count;
}

/**
 * The same rules as `requestBody` (which documents them in OpenAPI), checked by hand: remote
 * evaluation is the hottest endpoint, and the generic schema walk cost more than evaluating.
 */
export function checkOfrepBody(body: unknown): { value: { context: Record<string, unknown> } } | { error: AppError } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { error: AppError.invalid('body', 'expected an object { "context": { … } }') };
  for (const field of Object.keys(body)) if (field !== 'context') return { error: AppError.invalid(`body.${field}`, 'unknown field') };
  const context = (body as { context?: unknown }).context ?? {};
  if (typeof context !== 'object' || context === null || Array.isArray(context)) return { error: AppError.invalid('body.context', 'expected an object of attributes') };
  const checked = checkAttributes(context, 'body.context', 1, 0);
  return typeof checked === 'number' ? { value: { context: context as Record<string, unknown> } } : { error: checked };
}

/** Quoted-string safe text for a WWW-Authenticate parameter. */
const quoted = (text: string) => `"${text.replace(/["\\]/g, "'")}"`;

/**
 * OFREP's error shape for everything that fails under /ofrep/, whoever raised it (auth hook, body
 * parser, validator, handler): `{ key?, errorCode, errorDetails }`. 401, 403 and 429 carry no body,
 * as OFREP specifies (the reason is in WWW-Authenticate; Retry-After says when to come back).
 */
function ofrepErrorHandler(error: FastifyError | AppError, request: FastifyRequest, reply: FastifyReply) {
  const status = error instanceof AppError ? error.statusCode : typeof error.statusCode === 'number' ? error.statusCode : 500;
  if (status === 401 || status === 403) return reply.status(status).header('www-authenticate', `Bearer realm="switchyard", error_description=${quoted(error.message)}`).send();
  if (status === 429) return reply.status(status).send();
  if (status >= 500) {
    request.log.error({ err: error }, 'OFREP request failed');
    return reply.status(500).send({ errorCode: 'GENERAL', errorDetails: 'internal error' });
  }
  const params = request.params as { key?: unknown } | undefined;
  const key = typeof params?.key === 'string' ? params.key : undefined;
  const message = requestErrorMessage(error, request, status);
  const unparsable = isMalformedJson(error) || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || status === 415;
  const [errorCode, errorDetails]: [OfrepErrorCode, string] = unparsable
    ? ['PARSE_ERROR', message]
    : status === 400 || status === 413
      ? ['INVALID_CONTEXT', status === 413 ? `body: over ${OFREP_BODY_LIMIT} bytes; a context is a few hundred bytes` : message]
      : ['GENERAL', message];
  return reply.status(status).send(key === undefined ? { errorCode, errorDetails } : { key, errorCode, errorDetails });
}

const fastValidator = ({ httpPart }: { httpPart?: string }) => {
  if (httpPart === 'body') return checkOfrepBody;
  return (params: unknown) => {
    const key = (params as { key?: unknown }).key;
    return typeof key === 'string' && key.length > 200 ? { error: AppError.invalid('params.key', 'at most 200 characters') } : { value: params };
  };
};

export const ofrepRoutes: FastifyPluginAsyncZod<{ ruleSets: RuleSetCache }> = async (app, { ruleSets }) => {
  // This plugin is encapsulated (not wrapped in fastify-plugin): the handler covers these routes only.
  app.setErrorHandler(ofrepErrorHandler);
  async function environmentFlags(environment: string) {
    const compiled = await ruleSets.compiled(environment);
    if (!compiled) throw new AppError('not_found', `environment "${environment}" no longer exists`);
    return compiled;
  }

  app.post('/ofrep/v1/evaluate/flags/:key', {
    logLevel: SDK_ROUTE_LOG_LEVEL,
    schema: {
      tags: ['ofrep'],
      summary: 'OFREP: evaluate one flag',
      params: z.strictObject({ key: z.string().max(200) }),
      body: requestBody,
      response: { 200: success, 400: failure, 404: failure, 413: failure },
    },
    bodyLimit: OFREP_BODY_LIMIT,
    serializerCompiler: fastSerializer,
    validatorCompiler: fastValidator,
    onRequest: app.requireSdkKey,
  }, async (request, reply) => {
    const principal = request.principal as { environment: string };
    const flags = ruleSets.compiledNow(principal.environment) ?? (await environmentFlags(principal.environment)).flags;
    const key = request.params.key;
    const result = evaluateCompiled(flags.get(key), toEvaluationContext(request.body.context));
    if (result.errorCode === 'FLAG_NOT_FOUND') return reply.status(404).send({ key, errorCode: 'FLAG_NOT_FOUND', errorDetails: `flag "${key}" not found` });
    // TARGETING_KEY_MISSING (a rollout needs a targetingKey), TYPE_MISMATCH, PARSE_ERROR (a malformed flag).
    if (result.errorCode) return reply.status(400).send({ key, errorCode: result.errorCode, errorDetails: result.errorMessage });
    return { key, value: result.value, reason: result.reason, variant: result.variant, metadata: result.ruleId ? { ruleId: result.ruleId } : {} };
  });

  app.post('/ofrep/v1/evaluate/flags', {
    logLevel: SDK_ROUTE_LOG_LEVEL,
    schema: {
      tags: ['ofrep'],
      summary: 'OFREP: evaluate every flag (ETag / If-None-Match → 304)',
      body: requestBody,
      response: { 200: z.object({ flags: z.array(z.union([success, failure])) }), 304: z.null(), 400: failure, 413: failure },
    },
    bodyLimit: OFREP_BODY_LIMIT,
    serializerCompiler: fastSerializer,
    validatorCompiler: fastValidator,
    onRequest: app.requireSdkKey,
  }, async (request, reply) => {
    const principal = request.principal as { environment: string };
    const { ruleSet, flags } = await environmentFlags(principal.environment);
    // Same rule-set version + same context = same answers.
    const etag = `"${ruleSet.version}-${createHash('sha1').update(JSON.stringify(request.body.context)).digest('base64url').slice(0, 16)}"`;
    reply.header('etag', etag);
    if (request.headers['if-none-match'] === etag) return reply.status(304).send(null);
    const context = toEvaluationContext(request.body.context);
    const results = [];
    for (const [key, flag] of flags) {
      const r = evaluateCompiled(flag, context);
      results.push(
        r.errorCode
          ? { key, errorCode: r.errorCode, errorDetails: r.errorMessage }
          : { key, value: r.value, reason: r.reason, variant: r.variant, metadata: r.ruleId ? { ruleId: r.ruleId } : {} },
      );
    }
    return { flags: results };
  });
};
