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

/** One rule of one flag, in one environment, that refers to a segment (in_segment or not_in_segment). */
export const segmentUseSchema = z.object({
  flagKey: z.string(),
  flagName: z.string(),
  flagArchived: z.boolean(),
  environment: z.string(),
  ruleId: z.string(),
  /** The rule's description, or null when it has none. */
  ruleDescription: z.string().nullable(),
  /** The rule's position in the environment's rules (first match wins). */
  ruleIndex: z.int(),
  /** `not_in_segment` when the rule matches users outside the segment. */
  operator: z.enum(['in_segment', 'not_in_segment']),
});
export type SegmentUse = z.infer<typeof segmentUseSchema>;

/**
 * Every rule that refers to segment `key`: by flag key, then environment in `environmentOrder`
 * (environments it does not name last, by key), then rule order. A rule naming the segment in
 * several clauses counts once (with `not_in_segment` only when no clause says `in_segment`). These
 * are exactly the references that make `assertSegmentUnused` refuse a deletion.
 */
export function segmentUsage(key: string, flags: readonly Pick<Flag, 'key' | 'name' | 'archived' | 'environments'>[], environmentOrder: readonly string[] = []): SegmentUse[] {
  const rank = (env: string) => {
    const i = environmentOrder.indexOf(env);
    return i === -1 ? environmentOrder.length : i;
  };
  const uses: SegmentUse[] = [];
  for (const flag of [...flags].sort((a, b) => a.key.localeCompare(b.key))) {
    const environments = Object.keys(flag.environments).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    for (const environment of environments) {
      flag.environments[environment]!.rules.forEach((rule, ruleIndex) => {
        const operators = rule.clauses
          .filter((c) => (c.operator === 'in_segment' || c.operator === 'not_in_segment') && c.values.some((v) => String(v) === key))
          .map((c) => c.operator as SegmentUse['operator']);
        if (operators.length === 0) return;
        uses.push({
          flagKey: flag.key,
          flagName: flag.name,
          flagArchived: flag.archived,
          environment,
          ruleId: rule.id,
          ruleDescription: rule.description ?? null,
          ruleIndex,
          operator: operators.includes('in_segment') ? 'in_segment' : 'not_in_segment',
        });
      });
    }
  }
  return uses;
}
