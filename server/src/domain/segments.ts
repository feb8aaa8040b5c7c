import { z } from 'zod';
import { LIMITS, attributeSchema, keySchema, segmentRuleSchema, unitIdSchema } from './flags.js';
import { AppError } from './errors.js';
import { segmentReferences } from './flag-defaults.js';
import type { Flag } from './flags.js';

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

/** A segment before it is stored: the write path stamps version, times and author. */
export type NewSegment = Omit<Segment, 'version' | 'createdAt' | 'updatedAt' | 'updatedBy'>;

/** Cross-field rules zod cannot check alone: an id is never both included and excluded; rule ids are unique. */
export function assertValidSegment(segment: Pick<Segment, 'included' | 'excluded' | 'rules'>): void {
  const excluded = new Set(segment.excluded);
  const both = segment.included.find((id) => excluded.has(id));
  if (both !== undefined) throw AppError.invalid('body.included', `"${both}" is both included and excluded`);
  const ids = new Set<string>();
  segment.rules.forEach((rule, i) => {
    if (ids.has(rule.id)) throw AppError.invalid(`body.rules[${i}].id`, `duplicate rule id "${rule.id}"`);
    ids.add(rule.id);
  });
}

/** A segment can go only when no flag refers to it; the error names (some of) the flags that do. */
export function assertSegmentUnused(key: string, flags: readonly Pick<Flag, 'key' | 'environments'>[]): void {
  const users = flags.filter((flag) => segmentReferences(flag).has(key)).map((flag) => flag.key);
  if (users.length > 0) {
    throw new AppError('conflict', `segment "${key}" is used by flag(s): ${users.slice(0, 10).join(', ')}; remove those rules first`);
  }
}
