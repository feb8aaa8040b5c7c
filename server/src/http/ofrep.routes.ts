import { createHash } from 'node:crypto';
import type { EvaluationContext } from '@switchyard/sdk';
import { evaluateCompiled } from '@switchyard/sdk/ruleset';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../domain/errors.js';
import type { RuleSetCache } from '../services/rulesets.js';

/**
 * OpenFeature Remote Evaluation Protocol (OFREP v1) for scripts and other languages, evaluated with
 * the SDK's own `evaluate` on the in-memory rule set. Authenticated with an SDK key, which fixes
 * the environment.
 */

/**
 * Bounds on one evaluation context. SDK keys are public, so these bound what one request can make
 * the evaluator do: every `matches` and list clause of every flag looks at every string, and a bulk
 * request evaluates every flag. A real context is a few hundred bytes.
 */
const MAX_ATTRIBUTES = 200;
const MAX_STRING = 1024;
const MAX_ARRAY = 100;
/** Request bodies of remote evaluation: 100 attributes at the longest string fit; a flood does not. */
const OFREP_BODY_LIMIT = 64 * 1024;

const contextSchema = z
  .record(z.string().max(200), z.union([z.string().max(MAX_STRING), z.number(), z.boolean(), z.null(), z.array(z.union([z.string().max(MAX_STRING), z.number(), z.boolean()])).max(MAX_ARRAY)]))
  .refine((c) => Object.keys(c).length <= MAX_ATTRIBUTES, `at most ${MAX_ATTRIBUTES} attributes`)
  .describe('Evaluation context; `targetingKey` is the user ID');

const requestBody = z.strictObject({ context: contextSchema.default({}) });

const success = z.object({
  key: z.string(),
  value: z.unknown(),
  reason: z.string(),
  variant: z.string().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});
const failure = z.object({ key: z.string().optional(), errorCode: z.string(), errorDetails: z.string().optional() });

/**
 * OpenFeature calls the unit ID `targetingKey`; Switchyard buckets by `userId` by default.
 * Fills `userId` in place: the context is this request's freshly parsed body.
 */
export function toEvaluationContext(context: Record<string, unknown>): EvaluationContext {
  if (typeof context.targetingKey === 'string' && context.userId === undefined) context.userId = context.targetingKey;
  return context as EvaluationContext;
}

// Hot path: serialise with JSON.stringify (the schemas above still document the responses).
const fastSerializer = () => (data: unknown) => JSON.stringify(data);

const isScalar = (v: unknown) => (typeof v === 'string' ? v.length <= MAX_STRING : typeof v === 'number' ? Number.isFinite(v) : typeof v === 'boolean');

/**
 * The same rules as `requestBody` (which documents them in OpenAPI), checked by hand: remote
 * evaluation is the hottest endpoint, and the generic schema walk cost more than evaluating.
 */
export function checkOfrepBody(body: unknown): { value: { context: Record<string, unknown> } } | { error: AppError } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { error: AppError.invalid('body', 'expected an object { "context": { … } }') };
  for (const field of Object.keys(body)) if (field !== 'context') return { error: AppError.invalid(`body.${field}`, 'unknown field') };
  const context = (body as { context?: unknown }).context ?? {};
  if (typeof context !== 'object' || context === null || Array.isArray(context)) return { error: AppError.invalid('body.context', 'expected an object of attributes') };
  let count = 0;
  for (const name in context) {
    if (++count > MAX_ATTRIBUTES) return { error: AppError.invalid('body.context', `at most ${MAX_ATTRIBUTES} attributes`) };
    if (name.length > 200) return { error: AppError.invalid('body.context', 'attribute names are at most 200 characters') };
    const value = (context as Record<string, unknown>)[name];
    const ok = value === null || isScalar(value) || (Array.isArray(value) && value.length <= MAX_ARRAY && value.every(isScalar));
    if (!ok) return { error: AppError.invalid(`body.context.${name}`, `expected a string (≤ ${MAX_STRING} characters), finite number, boolean, null, or an array of those (≤ ${MAX_ARRAY})`) };
  }
  return { value: { context: context as Record<string, unknown> } };
}

const fastValidator = ({ httpPart }: { httpPart?: string }) => {
  if (httpPart === 'body') return checkOfrepBody;
  return (params: unknown) => {
    const key = (params as { key?: unknown }).key;
    return typeof key === 'string' && key.length > 200 ? { error: AppError.invalid('params.key', 'at most 200 characters') } : { value: params };
  };
};

export const ofrepRoutes: FastifyPluginAsyncZod<{ ruleSets: RuleSetCache }> = async (app, { ruleSets }) => {
  async function environmentFlags(environment: string) {
    const compiled = await ruleSets.compiled(environment);
    if (!compiled) throw new AppError('not_found', `environment "${environment}" no longer exists`);
    return compiled;
  }

  app.post('/ofrep/v1/evaluate/flags/:key', {
    schema: {
      tags: ['ofrep'],
      summary: 'OFREP: evaluate one flag',
      params: z.strictObject({ key: z.string().max(200) }),
      body: requestBody,
      response: { 200: success, 400: failure, 404: failure },
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
    if (result.errorCode) return reply.status(400).send({ key, errorCode: result.errorCode, errorDetails: result.errorMessage });
    return { key, value: result.value, reason: result.reason, variant: result.variant, metadata: result.ruleId ? { ruleId: result.ruleId } : {} };
  });

  app.post('/ofrep/v1/evaluate/flags', {
    schema: {
      tags: ['ofrep'],
      summary: 'OFREP: evaluate every flag (ETag / If-None-Match → 304)',
      body: requestBody,
      response: { 200: z.object({ flags: z.array(z.union([success, failure])) }), 304: z.null(), 400: failure },
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
