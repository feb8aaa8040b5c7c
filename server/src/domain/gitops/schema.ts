import { z } from 'zod';
import { segmentBodySchema } from '../segments.js';
import { LIMITS, attributeSchema, flagEnvironmentSchema, flagTypeSchema, keySchema, tagsSchema, variationKeySchema, variationSchema } from '../flags.js';

/**
 * The flags-as-code file: environments, segments and flags keyed by their keys (maps, so a file
 * diffs well and merges well), with no volatile fields (versions, timestamps, authors). Every part
 * reuses the API's own zod schemas, so a file can express exactly what the API can.
 */

export const FORMAT_VERSION = 1;

export const environmentEntrySchema = z.strictObject({
  name: z.string().min(1).max(LIMITS.name).optional().describe('Display name (default: the key)'),
  critical: z.boolean().default(false).describe('Shown as dangerous in the dashboard (production)'),
});

/** `stage: 10%` instead of the full targeting: what a product manager would set in the dashboard. */
export const stageEntrySchema = z.strictObject({
  stage: z.string().min(1).max(20).describe('off | dogfood | N% (e.g. 10%, 0.5%) | 100% | kill'),
  variation: variationKeySchema.optional().describe('Variation to release (non-boolean flags)'),
  salt: z.string().min(1).max(LIMITS.key).optional().describe('Bucketing salt (default: the flag key)'),
  bucketBy: attributeSchema.optional().describe('Attribute to bucket by (default: userId)'),
  prerequisites: flagEnvironmentSchema.shape.prerequisites,
});

export const flagEnvironmentEntrySchema = z.union([stageEntrySchema, flagEnvironmentSchema]);

export const flagEntrySchema = z.strictObject({
  name: z.string().min(1).max(LIMITS.name).optional().describe('Display name (default: the key)'),
  description: z.string().max(LIMITS.description).default(''),
  tags: tagsSchema.default([]),
  owner: z.string().max(LIMITS.name).default(''),
  type: flagTypeSchema.default('boolean'),
  variations: z.array(variationSchema).min(2).max(LIMITS.variations).optional().describe('Default for boolean flags: off (false) and on (true)'),
  archived: z.boolean().default(false),
  clientVisible: z.boolean().default(false).describe('Client keys (browsers, mobile apps) receive its evaluated value, never its rules'),
  environments: z.record(keySchema, flagEnvironmentEntrySchema).default({}).describe('Per-environment configuration: a stage, or full targeting'),
});

export const segmentEntrySchema = segmentBodySchema.omit({ key: true }).extend({
  name: z.string().min(1).max(LIMITS.name).optional().describe('Display name (default: the key)'),
});

export const gitopsDocumentSchema = z
  .strictObject({
    $schema: z.string().optional().describe('Where editors find this JSON Schema'),
    formatVersion: z.literal(FORMAT_VERSION).default(FORMAT_VERSION),
    environments: z.record(keySchema, environmentEntrySchema).default({}),
    segments: z.record(keySchema, segmentEntrySchema).default({}),
    flags: z.record(keySchema, flagEntrySchema).default({}),
  })
  .meta({ title: 'Switchyard flags as code', description: 'Environments, segments and flags for `switchyard apply` and `switchyard serve --sync`.' });

export type GitopsDocument = z.infer<typeof gitopsDocumentSchema>;
export type FlagEntry = z.infer<typeof flagEntrySchema>;
export type FlagEnvironmentEntry = z.infer<typeof flagEnvironmentEntrySchema>;
export type StageEntry = z.infer<typeof stageEntrySchema>;
export type SegmentEntry = z.infer<typeof segmentEntrySchema>;
export type EnvironmentEntry = z.infer<typeof environmentEntrySchema>;

/** The published JSON Schema (GET /api/gitops/schema.json, docs/switchyard-flags.schema.json). */
export function gitopsJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(gitopsDocumentSchema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
}
