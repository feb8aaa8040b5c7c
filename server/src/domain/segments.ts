import { z } from 'zod';
import { LIMITS, attributeSchema, keySchema, segmentRuleSchema, unitIdSchema } from './flags.js';

/** Segments are global: one definition (e.g. `internal`, the dogfood users) shared by every environment. */
export const segmentBodySchema = z.strictObject({
  key: keySchema,
  name: z.string().min(1).max(LIMITS.name),
  description: z.string().max(LIMITS.description).default(''),
  unitAttribute: attributeSchema.default('userId'),
  included: z.array(unitIdSchema).max(LIMITS.targetValues).default([]),
  excluded: z.array(unitIdSchema).max(LIMITS.targetValues).default([]),
  rules: z.array(segmentRuleSchema).max(LIMITS.rules).default([]),
});

// Written out rather than `.partial()`: zod still applies the body's defaults inside a partial
// object, so a PATCH naming one field would reset included/excluded/rules to [].
export const segmentPatchSchema = z.strictObject({
  name: z.string().min(1).max(LIMITS.name).optional(),
  description: z.string().max(LIMITS.description).optional(),
  unitAttribute: attributeSchema.optional(),
  included: z.array(unitIdSchema).max(LIMITS.targetValues).optional(),
  excluded: z.array(unitIdSchema).max(LIMITS.targetValues).optional(),
  rules: z.array(segmentRuleSchema).max(LIMITS.rules).optional(),
  version: z.int().min(1).optional(),
});

export interface Segment extends z.infer<typeof segmentBodySchema> {
  version: number;
  createdAt: number;
  updatedAt: number;
  updatedBy: string;
}

export const segmentResponseSchema = segmentBodySchema.extend({
  version: z.int(),
  createdAt: z.string(),
  updatedAt: z.string(),
  updatedBy: z.string(),
});
