import { createHash, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import type { EvaluationContext, EvaluationDetail } from '@switchyard/sdk';
import { SIGNATURE_ATTRIBUTE, signUserKey } from '@switchyard/sdk/node';
import { evaluateCompiled, type CompiledFlag } from '@switchyard/sdk/ruleset';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Gauge } from 'prom-client';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../domain/errors.js';
import type { CredentialsService } from '../services/credentials.service.js';
import type { FeedFollower } from '../services/feed.js';
import type { RuleSetCache } from '../services/rulesets.js';
import { OfrepEventHub, eventsTicket, refetchFrame, ticketKeyId, ticketMatches } from './ofrep-events.js';
import { addressGroup } from './address.js';
import type { SdkPrincipal } from './plugins/auth.js';
import { isMalformedJson, requestErrorMessage } from './plugins/errors.js';
import { SDK_ROUTE_LOG_LEVEL } from './request-context.js';

/**
 * OpenFeature Remote Evaluation Protocol (OFREP v1) for scripts, other languages and browsers,
 * evaluated with the SDK's own `evaluate` on the in-memory rule set. Authenticated with an SDK key,
 * which fixes the environment. Client keys (public, for browsers) may call bulk evaluation only,
 * get only flags marked visible to client keys, and — in secure mode — only for a user key their
 * application's server signed.
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
export const OFREP_BODY_LIMIT = 64 * 1024;
/** Single evaluation's route (the fast lane stands in front of it and counts its answers under it). */
export const OFREP_SINGLE_ROUTE = '/ofrep/v1/evaluate/flags/:key';

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

/** Which rule decided, or which prerequisite was not met (for server keys only: both name the targeting). */
const metadataOf = (r: EvaluationDetail): Record<string, string> =>
  r.ruleId !== undefined ? { ruleId: r.ruleId } : r.prerequisiteKey !== undefined ? { prerequisiteKey: r.prerequisiteKey } : {};

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

/** The answer to a single evaluation: status and body (the Fastify route and the fast lane send it alike). */
export function evaluateOne(flags: Map<string, CompiledFlag>, key: string, context: Record<string, unknown>): { status: 200 | 400 | 404; body: object } {
  delete context[SIGNATURE_ATTRIBUTE];
  const result = evaluateCompiled(flags.get(key), toEvaluationContext(context));
  if (result.errorCode === 'FLAG_NOT_FOUND') return { status: 404, body: { key, errorCode: 'FLAG_NOT_FOUND', errorDetails: `flag "${key}" not found` } };
  // TARGETING_KEY_MISSING (a rollout needs a targetingKey), TYPE_MISMATCH, PARSE_ERROR (a malformed flag).
  if (result.errorCode) return { status: 400, body: { key, errorCode: result.errorCode, errorDetails: result.errorMessage } };
  return { status: 200, body: { key, value: result.value, reason: result.reason, variant: result.variant, metadata: metadataOf(result) } };
}

/** Single evaluation: sends the answer (the handler stays synchronous when the rules are compiled). */
function answerOne(flags: Map<string, CompiledFlag>, key: string, context: Record<string, unknown>, reply: FastifyReply): void {
  const { status, body } = evaluateOne(flags, key, context);
  void reply.status(status).send(body);
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
    // `true`: valid and unchanged (Fastify keeps the params as they are; nothing to allocate).
    return typeof key === 'string' && key.length > 200 ? { error: AppError.invalid('params.key', 'at most 200 characters') } : true;
  };
};

/**
 * Secure mode: a client key's context must carry the HMAC of its user key (`targetingKey`, else
 * `userId`) made with the environment's secret, as `switchyardSignature`. A context without a user
 * key is anonymous and needs none. The signature is removed before evaluation (rules never see it).
 */
function checkSignature(principal: SdkPrincipal, context: Record<string, unknown>): void {
  const signature = context[SIGNATURE_ATTRIBUTE];
  delete context[SIGNATURE_ATTRIBUTE];
  if (!principal.client || principal.clientSecret === null) return;
  const userKey = typeof context.userId === 'string' && context.userId !== '' ? context.userId : undefined;
  if (userKey === undefined) return;
  if (typeof signature !== 'string' || signature === '') {
    throw new AppError('forbidden', `secure mode: this environment's client keys need the user key signed by your server; send ${SIGNATURE_ATTRIBUTE} (hex HMAC-SHA256 of the targetingKey) in the context`);
  }
  const expected = Buffer.from(signUserKey(principal.clientSecret, userKey));
  const given = Buffer.from(signature.toLowerCase());
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new AppError('forbidden', `secure mode: ${SIGNATURE_ATTRIBUTE} does not match this targetingKey (signed with another user key, or an old secret)`);
  }
}

/** `flagConfigEtag` from a notification: `"123"` (quoted or not) is rule-set version 123. */
function notifiedVersion(etag: string | undefined): number | undefined {
  const m = etag === undefined ? null : /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(etag);
  return m ? Number(m[1]) : undefined;
}

/** How long a re-fetch triggered by a notification waits for this replica to reach that change. */
const NOTIFIED_CATCH_UP_MS = 2_000;

export interface OfrepRoutesOptions {
  ruleSets: RuleSetCache;
  feed: FeedFollower;
  credentials: CredentialsService;
  /** Open notification streams one server key may hold on this replica; more get 429 (default 1,000). */
  maxStreamsPerKey?: number;
  /**
   * Open notification streams of client keys one client address (IPv6: its /64) may hold on this
   * replica; more get 429 (default 1,000). A client key is public and shared by every visitor of
   * an app, so its streams are bounded per address, not per key.
   */
  maxStreamsPerAddress?: number;
  /** Heartbeat comments on notification streams (default 25 s; 0: none). */
  heartbeatMs?: number;
}

const DEFAULT_MAX_STREAMS_PER_KEY = 1_000;
const DEFAULT_MAX_STREAMS_PER_ADDRESS = 1_000;
const EVENTS_PATH = '/ofrep/v1/events';

/** The SSE response head, written straight to the socket (see stream.routes.ts). */
const EVENTS_HEAD = Buffer.from(
  'HTTP/1.1 200 OK\r\n' +
    'Content-Type: text/event-stream\r\n' +
    'Cache-Control: no-cache\r\n' +
    'X-Accel-Buffering: no\r\n' +
    'Access-Control-Allow-Origin: *\r\n' +
    'Connection: close\r\n' +
    '\r\n',
);

export const ofrepRoutes: FastifyPluginAsyncZod<OfrepRoutesOptions> = async (app, { ruleSets, feed, credentials, maxStreamsPerKey = DEFAULT_MAX_STREAMS_PER_KEY, maxStreamsPerAddress = DEFAULT_MAX_STREAMS_PER_ADDRESS, heartbeatMs }) => {
  // This plugin is encapsulated (not wrapped in fastify-plugin): the handler covers these routes only.
  app.setErrorHandler(ofrepErrorHandler);
  async function environmentFlags(environment: string) {
    const compiled = await ruleSets.compiled(environment);
    if (!compiled) throw new AppError('not_found', `environment "${environment}" no longer exists`);
    return compiled;
  }

  const events = new OfrepEventHub(ruleSets, heartbeatMs);
  app.addHook('preClose', async () => events.close());
  app.onCredentialsRevoked((revocation) => {
    if (revocation.kind === 'sdk') events.revoke(revocation.id);
  });
  new Gauge({
    name: 'switchyard_ofrep_event_streams',
    help: 'Open OFREP change-notification streams by environment',
    labelNames: ['environment'] as const,
    registers: [app.metrics],
    collect() {
      this.reset();
      for (const [environment, count] of events.connections()) this.set({ environment }, count);
    },
  });

  /** Tickets are derived from the stored key hash: cached per key (a revocation clears it). */
  const ticketOfKey = new Map<number, string>();
  app.onCredentialsRevoked((revocation) => {
    if (revocation.kind === 'sdk') ticketOfKey.delete(revocation.id);
  });
  async function ticketFor(keyId: number): Promise<string | undefined> {
    const cached = ticketOfKey.get(keyId);
    if (cached) return cached;
    const key = await credentials.activeSdkKey(keyId);
    if (key === undefined) return undefined;
    const ticket = eventsTicket(keyId, key.keyHash);
    if (ticketOfKey.size >= 10_000) ticketOfKey.clear();
    ticketOfKey.set(keyId, ticket);
    return ticket;
  }

  app.post(OFREP_SINGLE_ROUTE, {
    logLevel: SDK_ROUTE_LOG_LEVEL,
    schema: {
      tags: ['ofrep'],
      summary: 'OFREP: evaluate one flag (server SDK keys)',
      params: z.strictObject({ key: z.string().max(200) }),
      body: requestBody,
      response: { 200: success, 400: failure, 404: failure, 413: failure },
    },
    bodyLimit: OFREP_BODY_LIMIT,
    serializerCompiler: fastSerializer,
    validatorCompiler: fastValidator,
    onRequest: app.requireSdkKey,
  }, (request, reply) => {
    const principal = request.principal as SdkPrincipal;
    const flags = ruleSets.compiledNow(principal.environment);
    // Synchronous once the environment's rules are compiled (from its first request on): no promise
    // per evaluation on the hottest route.
    if (flags === undefined) return environmentFlags(principal.environment).then((compiled) => answerOne(compiled.flags, request.params.key, request.body.context, reply));
    answerOne(flags, request.params.key, request.body.context, reply);
  });

  const eventStream = z.object({
    type: z.literal('sse'),
    endpoint: z.object({ requestUri: z.string() }),
  });

  app.post('/ofrep/v1/evaluate/flags', {
    logLevel: SDK_ROUTE_LOG_LEVEL,
    schema: {
      tags: ['ofrep'],
      summary: 'OFREP: evaluate every flag (client keys: those visible to client keys); ETag / If-None-Match → 304; `eventStreams` for change notifications',
      querystring: z.looseObject({
        flagConfigEtag: z.string().optional().describe('From a change notification: the rule-set version it announced (this replica catches up to it first)'),
        flagConfigLastModified: z.string().optional(),
      }),
      body: requestBody,
      response: {
        200: z.object({
          flags: z.array(z.union([success, failure])),
          eventStreams: z.array(eventStream).optional().describe(`Change notifications (Server-Sent Events at ${EVENTS_PATH}): on each \`refetchEvaluation\` message, evaluate again`),
        }),
        304: z.null(),
        400: failure,
        413: failure,
      },
    },
    bodyLimit: OFREP_BODY_LIMIT,
    serializerCompiler: fastSerializer,
    validatorCompiler: fastValidator,
    onRequest: app.requireEvaluationKey,
  }, async (request, reply) => {
    const principal = request.principal as SdkPrincipal;
    const context = request.body.context;
    checkSignature(principal, toEvaluationContext(context));
    // A re-fetch announced by a notification (perhaps from a quicker replica): reach that change first.
    const notified = notifiedVersion((request.query as { flagConfigEtag?: string }).flagConfigEtag);
    if (notified !== undefined && notified > feed.position) {
      await Promise.race([feed.reached(notified), new Promise((resolve) => setTimeout(resolve, NOTIFIED_CATCH_UP_MS).unref())]);
    }
    const { ruleSet, flags } = await environmentFlags(principal.environment);
    // Same rule-set version + same kind of key + same context = same answers.
    const etag = `"${ruleSet.version}-${principal.client ? 'c' : 's'}${createHash('sha1').update(JSON.stringify(context)).digest('base64url').slice(0, 16)}"`;
    reply.header('etag', etag);
    if (request.headers['if-none-match'] === etag) return reply.status(304).send(null);
    const results = [];
    for (const [key, flag] of flags) {
      // Client keys: flags marked visible only, and no rule ids (they name the targeting).
      if (principal.client && !flag.config.clientVisible) continue;
      const r = evaluateCompiled(flag, context as EvaluationContext);
      results.push(
        r.errorCode
          ? { key, errorCode: r.errorCode, errorDetails: r.errorMessage }
          : { key, value: r.value, reason: r.reason, variant: r.variant, metadata: principal.client ? {} : metadataOf(r) },
      );
    }
    const ticket = await ticketFor(principal.keyId);
    return ticket === undefined ? { flags: results } : { flags: results, eventStreams: [{ type: 'sse' as const, endpoint: { requestUri: `${EVENTS_PATH}?ticket=${ticket}` } }] };
  });

  app.get(EVENTS_PATH, {
    logLevel: SDK_ROUTE_LOG_LEVEL,
    exposeHeadRoute: false,
    schema: {
      tags: ['ofrep'],
      summary: 'OFREP change notifications (Server-Sent Events): `{"type":"refetchEvaluation","etag":…}` on every change to the environment; the URL comes from bulk evaluation\'s `eventStreams`',
      querystring: z.looseObject({ ticket: z.string().max(100).describe('From `eventStreams` (EventSource cannot send an Authorization header)') }),
      headers: z.looseObject({ 'last-event-id': z.string().optional().describe('The last version seen: a missed change is announced at once') }),
    },
  }, async (request, reply) => {
    const { ticket } = request.query as { ticket: string };
    const keyId = ticketKeyId(ticket);
    const key = keyId === undefined ? undefined : await credentials.activeSdkKey(keyId);
    if (keyId === undefined || key === undefined || !ticketMatches(ticket, keyId, key.keyHash)) {
      throw await app.authenticationFailed(request, reply, new AppError('unauthorized', 'invalid or revoked event-stream ticket; evaluate again (POST /ofrep/v1/evaluate/flags) for a new one'));
    }
    const client = key.kind === 'client';
    const holder = client ? `address ${addressGroup(request.ip)}` : `key ${keyId}`;
    if (events.countFor(holder) >= (client ? maxStreamsPerAddress : maxStreamsPerKey)) {
      void reply.header('retry-after', '30');
      throw new AppError(
        'rate_limited',
        client ? `this address already holds ${maxStreamsPerAddress} notification streams of client keys on this server` : `key "${key.name}" already holds ${maxStreamsPerKey} notification streams on this server`,
      );
    }
    const compiled = await ruleSets.get(key.environment);
    if (!compiled) throw new AppError('not_found', `environment "${key.environment}" no longer exists`);
    const lastSeen = notifiedVersion(request.headers['last-event-id'] as string | undefined);

    reply.hijack();
    const socket: Socket = request.raw.socket;
    if (socket.destroyed || !socket.writable) return reply;
    socket.setNoDelay(true);
    socket.write(EVENTS_HEAD);
    events.add(key.environment, keyId, holder, socket);
    // Reconnected after missing a change: say so now rather than at the next one.
    if (lastSeen !== undefined && lastSeen < compiled.version) socket.write(refetchFrame(compiled.version));
    return reply;
  });
};
