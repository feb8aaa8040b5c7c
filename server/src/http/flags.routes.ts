import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { auditContext, expectedVersion, iso } from './request-context.js';
import { errorResponses } from './responses.js';
import {
  LIMITS,
  flagEnvironmentSchema,
  ownEntry,
  flagTypeSchema,
  keySchema,
  tagsSchema,
  variationSchema,
  type Flag,
  type Managed,
} from '../domain/flags.js';
import type { IncidentOverride } from '../domain/gitops/incidents.js';
import type { FlagWithIncidents, FlagsService } from '../services/flags.service.js';
import { deriveStage, describeTargeting } from '../domain/stages.js';
import type { ChangeRequestsService } from '../services/change-requests/change-requests.service.js';
import { LIFECYCLES } from '../domain/lifecycle.js';
import type { LifecycleService } from '../services/lifecycle.service.js';
import { changeRequestResponse, personOf, toChangeRequestResponse } from './change-requests.routes.js';

/** JSON.stringify without schema validation, for responses built from already-validated data. */
const plainJson = () => (data: unknown) => JSON.stringify(data);

const versionField = z.int().min(1).optional().describe('The version you last read (or send If-Match)');

export const incidentResponse = z
  .object({
    killedAt: z.string(),
    killedBy: z.string(),
    message: z.string().nullable(),
    sinceCommit: z.string().nullable().describe('The commit the Git sync had applied when the flag was killed'),
  })
  .describe('Killed during an incident while managed by Git: the sync holds it killed here until it is resumed (POST …/resume) or a commit changes the flag in this environment');

export const flagEnvironmentResponse = flagEnvironmentSchema.extend({
  stage: z.string().describe('Derived release stage: off, dogfood, N%, 100% or kill when the targeting is exactly that stage (no other rules or individual targets), else custom'),
  // Optional in the shape only so that the CLI reads servers from before these fields; always sent.
  stageSummary: z.string().optional().describe('What the targeting is, in short words: the stage itself ("dogfood", "10%"), "dogfood + 1 rule", "10% + 2 targets", "1 rule only", "killed (was 100%)"'),
  killedFrom: z.string().nullable().optional().describe('When killed: the stage it was at (off, dogfood, N% or 100%), which a stage change restores with its other rules and targets; else null'),
  incident: incidentResponse.nullable().optional(),
});

export const flagResponse = z.object({
  key: z.string(),
  name: z.string(),
  description: z.string(),
  tags: z.array(z.string()),
  owner: z.string(),
  type: flagTypeSchema,
  variations: z.array(variationSchema),
  archived: z.boolean(),
  clientVisible: z.boolean().describe('Client keys (browsers, mobile apps) receive its evaluated value'),
  version: z.int(),
  createdAt: z.string(),
  updatedAt: z.string(),
  updatedBy: z.string(),
  environments: z.record(z.string(), flagEnvironmentResponse),
  managedBy: z.string().nullable().optional().describe('The Git file that manages this flag (read-only in the API), or null'),
});

export function toFlagResponse(flag: Flag, managedBy: string | null = null, incidents: readonly IncidentOverride[] = []): z.infer<typeof flagResponse> {
  const environments: Record<string, z.infer<typeof flagEnvironmentResponse>> = {};
  for (const [env, config] of Object.entries(flag.environments)) {
    const incident = incidents.find((i) => i.environment === env);
    const { stage, summary, killedFrom } = describeTargeting(config);
    environments[env] = {
      ...config,
      stage,
      stageSummary: summary,
      killedFrom,
      incident: incident ? { killedAt: iso(incident.killedAt), killedBy: incident.killedBy, message: incident.message, sinceCommit: incident.sinceCommit } : null,
    };
  }
  return { ...flag, createdAt: iso(flag.createdAt), updatedAt: iso(flag.updatedAt), environments, managedBy };
}

const createBody = z.strictObject({
  key: keySchema,
  name: z.string().min(1).max(LIMITS.name).optional(),
  description: z.string().max(LIMITS.description).optional(),
  tags: tagsSchema.optional(),
  owner: z.string().max(LIMITS.name).optional(),
  type: flagTypeSchema.default('boolean'),
  variations: z.array(variationSchema).min(2).max(LIMITS.variations).optional(),
  clientVisible: z.boolean().optional().describe('Client keys (browsers, mobile apps) may receive its evaluated value; default false'),
});

const metaPatch = z.strictObject({
  version: versionField,
  name: z.string().min(1).max(LIMITS.name).optional(),
  description: z.string().max(LIMITS.description).optional(),
  tags: tagsSchema.optional(),
  owner: z.string().max(LIMITS.name).optional(),
  variations: z.array(variationSchema).min(2).max(LIMITS.variations).optional(),
  archived: z.boolean().optional(),
  clientVisible: z.boolean().optional().describe('Client keys (browsers, mobile apps) may receive its evaluated value'),
});

// `killed` is restated: zod keeps its default (false) inside `.partial()`, so every patch cleared it.
const environmentPatch = flagEnvironmentSchema.partial().extend({ killed: z.boolean().optional(), version: versionField });

const listQuery = z.strictObject({
  q: z.string().max(LIMITS.name).optional().describe('Search in key, name and description'),
  tag: z.string().max(LIMITS.tag).optional(),
  archived: z.enum(['true', 'false', 'all']).default('false'),
  environment: z.string().max(LIMITS.key).optional().describe('With `stage`: the environment whose stage to filter on'),
  stage: z.string().max(20).optional().describe('off, dogfood, kill, 100%, custom, or "rollout" for any percentage'),
  lifecycle: z.enum(LIFECYCLES).optional().describe('Only flags at this point of their lifecycle: new, active, launched, stale or ready-to-remove (each flag summary says which)'),
});

const keyParams = z.strictObject({ key: z.string().max(LIMITS.key) });
/** Where an approval policy applies: propose the change as a change request (202) instead of writing it. */
export const changeRequestQuery = z.object({
  changeRequest: z.enum(['true', 'false']).optional().describe('true: create a change request holding this change (202, the request) instead of writing it — where an approval policy requires one'),
});
const envParams = z.strictObject({ key: z.string().max(LIMITS.key), environment: z.string().max(LIMITS.key) });

export const flagsRoutes: FastifyPluginAsyncZod<{ flags: FlagsService; changeRequests: ChangeRequestsService; lifecycle: LifecycleService }> = async (app, { flags, changeRequests, lifecycle }) => {
  const respond = ({ value, managedBy, ...rest }: Managed<Flag> | FlagWithIncidents) => toFlagResponse(value, managedBy, 'incidents' in rest ? rest.incidents : []);
  app.get('/api/flags', {
    schema: { tags: ['flags'], summary: 'List flags', querystring: listQuery, response: { 200: z.object({ items: z.array(flagResponse) }), ...errorResponses } },
    onRequest: app.requireRole('viewer'),
  }, async (request) => {
    const { q, tag, archived, environment, stage, lifecycle: wanted } = request.query;
    const needle = q?.toLowerCase();
    const items = (await flags.list()).filter(({ value: f }) => {
      if (archived !== 'all' && f.archived !== (archived === 'true')) return false;
      if (tag && !f.tags.includes(tag)) return false;
      if (needle && ![f.key, f.name, f.description].some((s) => s.toLowerCase().includes(needle))) return false;
      if (stage) {
        const configs = environment ? [ownEntry(f.environments, environment)].filter((c) => c !== undefined) : Object.values(f.environments);
        const stages = configs.map(deriveStage);
        if (!stages.some((s) => (stage === 'rollout' ? /^\d/.test(s) && s !== '100%' : s === stage))) return false;
      }
      return true;
    });
    if (wanted === undefined) return { items: items.map(respond) };
    const lifecycles = await lifecycle.forFlags(items.map((f) => f.value));
    return { items: items.filter((f) => lifecycles.get(f.value.key) === wanted).map(respond) };
  });

  app.post('/api/flags', {
    schema: { tags: ['flags'], summary: 'Create a flag (off in every environment)', body: createBody, response: { 201: flagResponse, ...errorResponses } },
    onRequest: app.requireRole('editor'),
  }, async (request, reply) => {
    const flag = await flags.create(request.body, auditContext(request));
    return reply.status(201).header('etag', `"${flag.value.version}"`).send(respond(flag));
  });

  app.get('/api/flags/:key', {
    schema: { tags: ['flags'], summary: 'Read a flag with its stage in every environment', params: keyParams, response: { 200: flagResponse, ...errorResponses } },
    onRequest: app.requireRole('viewer'),
  }, async (request, reply) => {
    const flag = await flags.get(request.params.key);
    return reply.header('etag', `"${flag.value.version}"`).send(respond(flag));
  });

  app.patch('/api/flags/:key', {
    schema: { tags: ['flags'], summary: 'Change name, description, tags, owner, variations or archived', params: keyParams, body: metaPatch, response: { 200: flagResponse, ...errorResponses } },
    onRequest: app.requireRole('editor'),
  }, async (request, reply) => {
    const { version, ...patch } = request.body;
    const flag = await flags.updateMeta(request.params.key, expectedVersion(request, version), patch, auditContext(request));
    return reply.header('etag', `"${flag.value.version}"`).send(respond(flag));
  });

  app.delete('/api/flags/:key', {
    schema: { tags: ['flags'], summary: 'Delete a flag (audited; revertible)', params: keyParams, body: z.strictObject({ version: versionField }).nullish(), response: { 200: flagResponse, ...errorResponses } },
    onRequest: app.requireRole('editor'),
  }, async (request) => {
    const flag = await flags.remove(request.params.key, expectedVersion(request, request.body?.version), auditContext(request));
    return respond(flag);
  });

  app.patch('/api/flags/:key/environments/:environment', {
    schema: { tags: ['flags'], summary: "Change a flag's targeting in one environment", params: envParams, querystring: changeRequestQuery, body: environmentPatch, response: { 200: flagResponse, 202: changeRequestResponse, ...errorResponses } },
    onRequest: app.requireRole('editor'),
  }, async (request, reply) => {
    const { version, ...patch } = request.body;
    const { key, environment } = request.params;
    if (request.query.changeRequest === 'true') {
      const change = { type: 'targeting' as const, flag: key, config: patch, baseVersion: expectedVersion(request, version)! };
      const proposed = await changeRequests.create({ title: `Change the targeting of ${key} in ${environment}`.slice(0, LIMITS.name), environment, changes: [change] }, personOf(request), auditContext(request));
      return reply.status(202).send(toChangeRequestResponse(proposed));
    }
    const flag = await flags.updateEnvironment(key, environment, expectedVersion(request, version), patch, auditContext(request));
    return reply.header('etag', `"${flag.value.version}"`).send(respond(flag));
  });

  app.post('/api/flags/:key/environments/:environment/stage', {
    // The release hot path: the response is built from validated data, so skip re-validating it.
    serializerCompiler: plainJson,
    schema: {
      tags: ['flags'],
      summary: 'Move to a release stage: off, dogfood, N%, 100% or kill',
      params: envParams,
      body: z.strictObject({
        stage: z.string().min(1).max(20).describe('off | dogfood | 10% | 0.5% | 100% | kill'),
        variation: z.string().max(64).optional().describe('Variation to release (non-boolean flags)'),
        version: versionField,
        message: z.string().max(LIMITS.description).optional(),
      }),
      querystring: changeRequestQuery,
      response: { 200: flagResponse, 202: changeRequestResponse, ...errorResponses },
    },
    onRequest: app.requireRole('editor'),
  }, async (request, reply) => {
    const { stage, variation, version, message } = request.body;
    const { key, environment } = request.params;
    if (request.query.changeRequest === 'true') {
      const change = { type: 'stage' as const, flag: key, stage, ...(variation !== undefined ? { variation } : {}), baseVersion: expectedVersion(request, version)! };
      const title = (message ?? `Move ${key} to ${stage.trim()} in ${environment}`).slice(0, LIMITS.name);
      const proposed = await changeRequests.create({ title, environment, changes: [change] }, personOf(request), auditContext(request));
      return reply.status(202).send(toChangeRequestResponse(proposed));
    }
    // The kill switch must work even from a stale screen: it never needs the current version.
    const expected = expectedVersion(request, version, stage.trim() !== 'kill');
    const flag = await flags.setStage(key, environment, stage, variation, expected, auditContext(request, { message }));
    return reply.header('etag', `"${flag.value.version}"`).send(respond(flag));
  });

  app.post('/api/flags/:key/environments/:environment/kill', {
    // The release hot path: the response is built from validated data, so skip re-validating it.
    serializerCompiler: plainJson,
    schema: {
      tags: ['flags'],
      summary: 'Kill switch: off immediately, from any stage (no version needed)',
      params: envParams,
      body: z.strictObject({ message: z.string().max(LIMITS.description).optional() }).nullish(),
      response: { 200: flagResponse, ...errorResponses },
    },
    onRequest: app.requireRole('editor'),
  }, async (request, reply) => {
    const { key, environment } = request.params;
    const flag = await flags.setStage(key, environment, 'kill', undefined, undefined, auditContext(request, { message: request.body?.message }));
    return reply.header('etag', `"${flag.value.version}"`).send(respond(flag));
  });

  app.post('/api/flags/:key/environments/:environment/resume', {
    schema: {
      tags: ['flags'],
      summary: 'End an incident kill of a Git-managed flag: the Git file\'s configuration applies again at once',
      description:
        'A kill of a flag managed by the Git sync holds it killed in that environment (`environments.<env>.incident`) through syncs and restarts. Resuming ends the hold and puts back what the file asks for there, audited as `flag.resumed`. 409 when nothing holds it. `version` (or If-Match) is optional: send it to refuse a resume of a flag changed since you read it.',
      params: envParams,
      body: z.strictObject({ message: z.string().max(LIMITS.description).optional(), version: versionField }).nullish(),
      response: { 200: flagResponse, ...errorResponses },
    },
    onRequest: app.requireRole('editor'),
  }, async (request, reply) => {
    const { key, environment } = request.params;
    const expected = expectedVersion(request, request.body?.version, false);
    const flag = await flags.resume(key, environment, expected, auditContext(request, { message: request.body?.message }));
    return reply.header('etag', `"${flag.value.version}"`).send(respond(flag));
  });
};
