import { z } from 'zod';
import { LIMITS, attributeSchema, keySchema, segmentRuleSchema, unitIdSchema } from '../flags/flags.schemas.js';

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

export const segmentPatchSchema = segmentBodySchema.omit({ key: true }).partial().extend({
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
