import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { Gauge, type Registry } from 'prom-client';
import { z } from 'zod';
import { AppError } from '../domain/errors.js';
import { LIMITS } from '../domain/flags.js';
import { personOf } from './change-requests.routes.js';
import { auditContext } from './request-context.js';
import { errorResponses, errorSchema } from './responses.js';
import { serializeDocument } from '../domain/gitops/export.js';
import type { GitOpsService } from '../services/gitops/gitops.service.js';
import type { SourceFile } from '../domain/gitops/locate.js';
import { DOCUMENT_LIMITS, formatBytes } from '../domain/gitops/limits.js';
import type { Role } from '../domain/credentials.js';
import { gitopsJsonSchema } from '../domain/gitops/schema.js';
import { statusForNonAdmin, type GitOpsSync, type SyncStatus } from '../services/gitops/sync.js';

/** Bigger than the API's 1 MiB default (~10,000 flags as stages), and no bigger: see limits.ts. */
const DOCUMENT_BODY_LIMIT = DOCUMENT_LIMITS.bytes;
const DEFAULT_FILENAME = 'document';
/**
 * Plans are built by our own code from validated files: checking a 10,000-change response against
 * its zod schema again would only add work on the event loop (the schema stays, for the OpenAPI document).
 */
const plainJson = () => (data: unknown) => JSON.stringify(data);

const sourceSchema = z.strictObject({ name: z.string().min(1).max(1000), content: z.string() });
const planBody = z.strictObject({
  document: z.union([z.string(), z.record(z.string(), z.unknown())]).optional().describe('The file: YAML or JSON text (or a JSON object)'),
  filename: z.string().min(1).max(1000).optional().describe('Named in error messages (file:line:col)'),
  documents: z.array(sourceSchema).max(1000).optional().describe('Several files, merged (a directory)'),
  prune: z.boolean().default(false).describe('Delete flags and segments the files do not name'),
});
const applyBody = planBody.extend({
  dryRun: z.boolean().default(false),
  message: z.string().max(LIMITS.description).optional(),
  commit: z.string().max(100).optional(),
  expectedVersions: z.record(z.string().max(200), z.int().min(0)).optional().describe('`versions` from a plan: anything changed since fails with 409'),
  bypassApproval: z.string().trim().min(1, 'give the reason for bypassing approval (it is recorded in the audit log)').max(LIMITS.description).optional()
    .describe('Admins only, where every approval policy involved allows admin bypass: apply changes that need approval anyway; the reason is recorded in every audit entry'),
  changeRequest: z.strictObject({
    title: z.string().trim().min(1).max(200),
    description: z.string().max(LIMITS.description).optional(),
  }).optional().describe('Propose the changes that need approval as change requests (one per environment) and apply the rest of the file directly'),
});

const changeSchema = z.object({
  action: z.enum(['create', 'update', 'delete']),
  resource: z.enum(['environment', 'segment', 'flag']),
  key: z.string(),
  fields: z.array(z.object({ path: z.string(), before: z.unknown(), after: z.unknown() })),
});
const planResponse = z.object({
  changes: z.array(changeSchema),
  summary: z.object({ create: z.int(), update: z.int(), delete: z.int() }),
  versions: z.record(z.string(), z.int()),
});
const applyResponse = planResponse.extend({
  applied: z.boolean(),
  dryRun: z.boolean(),
  auditIds: z.array(z.int()),
  changeRequests: z.array(z.object({ id: z.int(), environment: z.string(), title: z.string(), changes: z.int() })).describe('Change requests proposed for the changes that need approval (with `changeRequest`)'),
  approvalBypassed: z.array(z.string()).describe('Environments whose approval policy this apply bypassed (with `bypassApproval`)'),
});
const responses = { ...errorResponses, 413: errorSchema, 423: errorSchema };

function sourcesOf(body: z.infer<typeof planBody>): SourceFile[] {
  const given = [body.document !== undefined, body.documents !== undefined].filter(Boolean).length;
  if (given !== 1) throw AppError.invalid('body.document', 'send exactly one of "document" or "documents"');
  if (body.documents) return body.documents.map((d) => ({ name: d.name, text: d.content }));
  // JSON.stringify recurses: a deeper object would overflow the stack before the file's own depth check.
  if (typeof body.document === 'object' && !nestsWithin(body.document, DOCUMENT_LIMITS.depth)) {
    throw AppError.invalid('body.document', `nested more than ${DOCUMENT_LIMITS.depth} levels deep (the limit for a flags file)`);
  }
  const text = typeof body.document === 'string' ? body.document : JSON.stringify(body.document, null, 2);
  return [{ name: body.filename ?? DEFAULT_FILENAME, text }];
}

function nestsWithin(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > max) return false;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return true;
}

/** The caller's role (the routes below require an API token, so there is one). */
function roleOf(request: FastifyRequest): Role {
  return request.principal?.kind === 'api' ? request.principal.role : 'viewer';
}

const tooLarge = () =>
  new AppError('payload_too_large', `request body too large: a flags document may be at most ${formatBytes(DOCUMENT_BODY_LIMIT)} (split the files into several applies)`);

export interface GitOpsRoutesOptions {
  gitops: GitOpsService;
  /** Sync mode (`serve --sync`): run by the leader replica; every replica reports its status. */
  sync?: GitOpsSync;
}

export const gitopsRoutes: FastifyPluginAsyncZod<GitOpsRoutesOptions> = async (app, { gitops, sync }) => {
  const syncPath = sync?.status.path;
  if (sync) registerMetrics(app.metrics, sync);
  app.addHook('onClose', () => gitops.close());
  // Fastify's own 413 says only "Request body is too large": name the limit and what to do.
  // (A child error handler: whatever it throws goes on to the app's one.)
  app.setErrorHandler((error) => {
    throw (error as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? tooLarge() : error;
  });

  // Public on purpose: editors fetch it to validate files, and it holds no data.
  app.get('/api/gitops/schema.json', { schema: { tags: ['gitops'], summary: 'JSON Schema of the flags file (for editors)' } }, async (_request, reply) =>
    reply.type('application/schema+json').send(`${JSON.stringify(gitopsJsonSchema(), null, 2)}\n`),
  );

  app.get('/api/gitops/export', {
    schema: {
      tags: ['gitops'],
      summary: 'The current state as a flags file (YAML, or JSON with Accept: application/json or format=json)',
      querystring: z.strictObject({ environment: z.string().max(LIMITS.key).optional(), format: z.enum(['yaml', 'json']).optional() }),
    },
    onRequest: app.requireRole('viewer'),
  }, async (request, reply) => {
    const { environment, format } = request.query;
    const accept = request.headers.accept ?? '';
    const chosen = format ?? (/json/.test(accept) && !/yaml/.test(accept) ? 'json' : 'yaml');
    const text = serializeDocument(await gitops.export(environment), chosen);
    return reply.type(chosen === 'json' ? 'application/json; charset=utf-8' : 'application/yaml; charset=utf-8').send(text);
  });

  app.post('/api/gitops/plan', {
    bodyLimit: DOCUMENT_BODY_LIMIT,
    serializerCompiler: plainJson,
    schema: { tags: ['gitops'], summary: 'What applying a flags file would change (create, change with before → after, delete)', body: planBody, response: { 200: planResponse, ...responses } },
    onRequest: app.requireRole('viewer'),
  }, async (request, reply) => {
    // Already JSON: a big plan is built and serialised off the event loop (services/gitops/documents.ts).
    const body = await gitops.planResponse(sourcesOf(request.body), { prune: request.body.prune });
    // (Typed as the response schema, which documents it; Fastify sends a string as is.)
    return reply.type('application/json; charset=utf-8').send(body as unknown as z.infer<typeof planResponse>);
  });

  app.post('/api/gitops/apply', {
    bodyLimit: DOCUMENT_BODY_LIMIT,
    serializerCompiler: plainJson,
    schema: { tags: ['gitops'], summary: 'Apply a flags file: all or nothing, in one transaction, audited with source gitops',
      description:
        'Where an environment has an approval policy, changes there that a REST call would have to propose (targeting and stages of its flags, a new flag not starting off there, and — whenever any environment has a policy — segment edits) are refused with 409 `approval_required`, unless `changeRequest` proposes them as change requests (the rest of the file is applied) or an admin gives `bypassApproval` where the policies allow it. Flag metadata, new segments and deletions are not governed.',
      body: applyBody, response: { 200: applyResponse, ...responses } },
    onRequest: app.requireRole('editor'),
  }, async (request) => {
    const { prune, dryRun, message, commit, expectedVersions, bypassApproval, changeRequest } = request.body;
    if (bypassApproval !== undefined && changeRequest !== undefined) throw AppError.invalid('body.bypassApproval', 'send either "bypassApproval" or "changeRequest", not both');
    if (sync && !dryRun) {
      const shown = roleOf(request) === 'admin' ? syncPath : statusForNonAdmin(sync.status).path;
      throw new AppError('locked', `this server syncs from Git (${shown}); commit the change there instead of applying it`, { managedBy: shown });
    }
    const audit = auditContext(request, { message, commit });
    const approval =
      bypassApproval !== undefined ? { bypass: bypassApproval, by: 'admin' as const } : changeRequest !== undefined ? { request: changeRequest, person: personOf(request) } : undefined;
    return gitops.apply(sourcesOf(request.body), { role: roleOf(request), prune, dryRun, expectedVersions, audit, approval });
  });

  app.get('/api/gitops/status', {
    schema: { tags: ['gitops'], summary: 'Sync mode: the file (its full path for admins, its name for others), the last sync, the last error (file:line:col) and drift' },
    onRequest: app.requireRole('viewer'),
  }, async (request) => {
    if (!sync) return { mode: 'manual', path: null, lastSync: null, lastError: null, drift: [] };
    const { appliedHash: _hash, ...status } = await sync.current();
    return { mode: 'sync', ...(roleOf(request) === 'admin' ? status : statusForNonAdmin(status)) };
  });
};

function registerMetrics(registry: Registry, sync: GitOpsSync): void {
  const gauge = (name: string, help: string, value: (status: SyncStatus) => number) =>
    new Gauge({ name, help, registers: [registry], async collect() { this.set(value(await sync.current())); } });
  gauge('switchyard_gitops_drift', 'Flags and segments whose database state differs from the sync file', (s) => s.drift.length);
  gauge('switchyard_gitops_last_sync_success', '1 if the last sync attempt applied the file, 0 if it failed (invalid file)', (s) => (s.lastSuccess ? 1 : 0));
  gauge('switchyard_gitops_last_sync_timestamp_seconds', 'When the sync file was last applied successfully', (s) => (s.lastSync ? Date.parse(s.lastSync) / 1000 : 0));
  gauge('switchyard_gitops_managed_flags', 'Flags managed by the sync file (read-only in the API)', (s) => s.managed.flags);
}
