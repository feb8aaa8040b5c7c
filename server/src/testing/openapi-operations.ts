import type { FastifyInstance } from 'fastify';

/**
 * The operations of the app's own OpenAPI document (`/openapi.json`), for tests generated from it
 * (the fuzzer, the role matrix): a route added to the API is in them without anyone listing it.
 */

/** A JSON Schema as the document holds it (only the keywords the tests read). */
export interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  required?: string[];
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  default?: unknown;
}

export const MUTATING_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type HttpMethod = 'GET' | (typeof MUTATING_METHODS)[number];

export interface Operation {
  /** `POST /api/flags/{key}/environments/{environment}/stage`: the document's own spelling. */
  id: string;
  method: HttpMethod;
  /** The path template, e.g. `/api/flags/{key}`. */
  path: string;
  pathParams: string[];
  queryParams: { name: string; schema: JsonSchema }[];
  headerParams: { name: string; schema: JsonSchema }[];
  /** The JSON body's schema ($refs resolved lazily with `resolve`), or null when it takes none. */
  body: JsonSchema | null;
  tags: string[];
  summary: string;
}

interface OpenApiDocument {
  paths: Record<string, Record<string, { tags?: string[]; summary?: string; parameters?: { in: string; name: string; schema?: JsonSchema }[]; requestBody?: { content?: Record<string, { schema?: JsonSchema }> } }>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

export interface ApiDescription {
  operations: Operation[];
  /** Follows `$ref: '#/components/schemas/X'`. */
  resolve(schema: JsonSchema): JsonSchema;
}

export async function describeApi(app: FastifyInstance): Promise<ApiDescription> {
  const res = await app.inject({ method: 'GET', url: '/openapi.json' });
  if (res.statusCode !== 200) throw new Error(`GET /openapi.json: ${res.statusCode} ${res.body}`);
  const doc = res.json<OpenApiDocument>();
  const schemas = doc.components?.schemas ?? {};
  const resolve = (schema: JsonSchema): JsonSchema => {
    if (!schema.$ref) return schema;
    const name = /^#\/components\/schemas\/(.+)$/.exec(schema.$ref)?.[1];
    const target = name === undefined ? undefined : schemas[name];
    if (!target) throw new Error(`unresolvable $ref ${schema.$ref}`);
    return resolve(target);
  };
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const upper = method.toUpperCase() as HttpMethod;
      const parameters = op.parameters ?? [];
      operations.push({
        id: `${upper} ${path}`,
        method: upper,
        path,
        pathParams: [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!),
        queryParams: parameters.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema ?? {} })),
        headerParams: parameters.filter((p) => p.in === 'header').map((p) => ({ name: p.name, schema: p.schema ?? {} })),
        body: op.requestBody?.content?.['application/json']?.schema ?? null,
        tags: op.tags ?? [],
        summary: op.summary ?? '',
      });
    }
  }
  return { operations, resolve };
}

/** Fill a path template with already-encoded segments: `fillPath('/api/flags/{key}', { key: 'f' })`. */
export function fillPath(path: string, encoded: Record<string, string>): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = encoded[name];
    if (value === undefined) throw new Error(`no value for {${name}} in ${path}`);
    return value;
  });
}

/** Server-Sent Events never end by themselves: `app.inject` would wait forever for their body. */
export const isEventStream = (op: Operation): boolean => op.method === 'GET' && /Server-Sent Events/.test(op.summary);

/** Routes an SDK key calls (the management API takes API tokens). */
export const isSdkRoute = (op: Operation): boolean => op.tags.includes('sdk') || op.tags.includes('ofrep');
