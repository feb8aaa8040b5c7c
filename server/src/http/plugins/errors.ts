import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { AppError, type ErrorDetail } from '../../domain/errors.js';

/** A body Fastify could not parse as JSON. */
export const isMalformedJson = (error: Error & { code?: string }): boolean => error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError;

/**
 * The message of a 4xx raised before a handler runs (also used by OFREP's own error shape):
 * malformed JSON and a wrong content type say what to send instead.
 */
export function requestErrorMessage(error: Error & { code?: string }, request: FastifyRequest, status: number): string {
  if (isMalformedJson(error)) return `body: malformed JSON (${error.message})`;
  if (status === 415) return `${error.message}: content-type ${JSON.stringify(request.headers['content-type'] ?? '')}; send application/json`;
  return error.message;
}

/** `/rules/0/clauses/1` → `rules[0].clauses[1]`, prefixed with where it came from (`body`, `query`…). */
export function formatPath(context: string | undefined, instancePath: string): string {
  const parts = instancePath.split('/').filter(Boolean);
  let path = context === 'querystring' ? 'query' : (context ?? '');
  for (const part of parts) path += /^\d+$/.test(part) ? `[${part}]` : path === '' ? part : `.${part}`;
  return path || '(root)';
}

interface IssueLike {
  path?: PropertyKey[];
  message?: string;
  errors?: IssueLike[][];
}
interface ValidationLike {
  instancePath: string;
  message?: string;
  params?: IssueLike;
}

/**
 * A union that matched no option reports only "Invalid input". Report instead the issues of the
 * option that got furthest (deepest path), e.g. `defaultServe.rollout.variations[0].weight`.
 */
function expandUnions(v: ValidationLike): ValidationLike[] {
  const branches = v.params?.errors;
  if (!Array.isArray(branches) || branches.length === 0) return [v];
  let best: IssueLike[] | undefined;
  let bestDepth = 0;
  for (const issues of branches) {
    const depth = Math.max(0, ...issues.map((i) => i.path?.length ?? 0));
    if (depth > bestDepth) [best, bestDepth] = [issues, depth];
  }
  if (!best) return [v];
  return best.flatMap((issue) =>
    expandUnions({ instancePath: [v.instancePath, ...(issue.path ?? []).map(String)].join('/'), message: issue.message, params: issue }),
  );
}

/**
 * Requests Node's HTTP parser rejects before Fastify sees them (headers over 16 KiB, malformed
 * request lines, a request timeout) get the one error shape too, instead of Fastify's default
 * `{ error: "Bad Request", message: "Client Error" }`. Passed as Fastify's `clientErrorHandler`.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'bad_request', 'the request took too long to arrive']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'bad_request', 'request headers too large (the URL and headers together are limited to 16 KiB)']
        : [400, 'bad_request', 'malformed HTTP request'];
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(error);
}

function send(reply: FastifyReply, status: number, code: string, message: string, details?: unknown) {
  return reply.status(status).send({ error: details === undefined ? { code, message } : { code, message, details } });
}

/** One error shape everywhere: `{ error: { code, message, details? } }`; 5xx texts are never shown. */
export const errorsPlugin = fp(
  async (app: FastifyInstance) => {
    // The API takes JSON bodies only. Fastify also parses text/plain by default, which turned a
    // wrong content type into a confusing "body: expected object, received string"; without the
    // parser the client gets 415 naming the media type, like any other non-JSON body.
    app.removeContentTypeParser('text/plain');

    app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
      if (error instanceof AppError) {
        if (error.statusCode >= 500) request.log.error({ err: error }, 'request failed');
        return send(reply, error.statusCode, error.code, error.message, error.details ?? undefined);
      }
      if (hasZodFastifySchemaValidationErrors(error)) {
        const details: ErrorDetail[] = (error.validation as ValidationLike[]).flatMap(expandUnions).map((v) => ({
          path: formatPath(error.validationContext, v.instancePath),
          message: v.message ?? 'invalid',
        }));
        const first = details[0]!;
        const more = details.length > 1 ? ` (and ${details.length - 1} more)` : '';
        return send(reply, 400, 'validation_failed', `${first.path}: ${first.message}${more}`, details);
      }
      if (isResponseSerializationError(error as never)) {
        request.log.error({ err: error }, 'response did not match its schema');
        return send(reply, 500, 'internal', 'internal error');
      }
      const status = typeof error.statusCode === 'number' ? error.statusCode : 500;
      if (status >= 400 && status < 500) {
        const code =
          status === 415 ? 'unsupported_media_type' : status === 413 ? 'payload_too_large' : status === 404 ? 'not_found' : status === 429 ? 'rate_limited' : 'bad_request';
        return send(reply, status, code, requestErrorMessage(error, request, status));
      }
      request.log.error({ err: error }, 'unexpected error');
      return send(reply, 500, 'internal', 'internal error');
    });

    app.setNotFoundHandler((request, reply) => send(reply, 404, 'not_found', `no route ${request.method} ${request.url.split('?')[0]}`));
  },
  { name: 'errors' },
);
