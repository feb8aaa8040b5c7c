import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../../domain/errors.js';

/**
 * Text the API stores must be storable everywhere: PostgreSQL rejects NUL (U+0000) in `text` and
 * `jsonb`, and unpaired surrogates in `jsonb` (in `text` they silently become U+FFFD). Both were
 * 500s there while SQLite kept them — so a file exported from one installation could not be
 * imported into another. Every path parameter, query value and JSON body string (and object key)
 * is checked before validation, with a 400 naming the field.
 *
 * OFREP evaluation contexts are never stored and are the hottest path: they are not walked.
 */
const UNSTORED_PREFIXES = ['/ofrep/'];

/** With the `u` flag a surrogate pair reads as one code point, so this matches only unpaired halves. */
const UNPAIRED_SURROGATE = /\p{Cs}/u;

export function textProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'contains a NUL character (U+0000), which text cannot hold';
  if (UNPAIRED_SURROGATE.test(text)) return 'contains an unpaired surrogate (U+D800–U+DFFF): not valid Unicode';
  return undefined;
}

interface Visit {
  value: unknown;
  parent: Visit | null;
  key: string | number;
}

/** `body` + `rules` + 0 → `body.rules[0]`, built only for the one path reported. */
function pathOf(visit: Visit): string {
  const keys: (string | number)[] = [];
  for (let v: Visit | null = visit; v; v = v.parent) keys.push(v.key);
  return keys.reverse().reduce<string>((path, key, i) => (i === 0 ? String(key) : typeof key === 'number' ? `${path}[${key}]` : `${path}.${key}`), '');
}

/** The first unstorable string in `value`, walked without recursion (bodies may nest 10,000 deep). */
export function findUnstorableText(value: unknown, root: string): { path: string; message: string } | undefined {
  const stack: Visit[] = [{ value, parent: null, key: root }];
  while (stack.length > 0) {
    const visit = stack.pop()!;
    const v = visit.value;
    if (typeof v === 'string') {
      const message = textProblem(v);
      if (message) return { path: pathOf(visit), message };
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], parent: visit, key: i });
    } else if (typeof v === 'object' && v !== null) {
      for (const [key, child] of Object.entries(v)) {
        const message = textProblem(key);
        if (message) return { path: pathOf(visit), message: `a field name ${message}` };
        stack.push({ value: child, parent: visit, key });
      }
    }
  }
  return undefined;
}

export const storableTextPlugin = fp(
  async (app: FastifyInstance) => {
    // Callback style: no promise per request (remote evaluation, the hottest route, skips the walk).
    app.addHook('preValidation', (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
      if (UNSTORED_PREFIXES.some((prefix) => request.url.startsWith(prefix))) return done();
      const problem = findUnstorableText(request.params, 'params') ?? findUnstorableText(request.query, 'query') ?? findUnstorableText(request.body, 'body');
      done(problem ? AppError.invalid(problem.path, problem.message) : undefined);
    });
  },
  { name: 'storable-text' },
);
