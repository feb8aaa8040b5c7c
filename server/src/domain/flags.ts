import { BUCKETS } from '@switchyard/sdk';
import { CLAUSE_OPERATORS, FLAG_TYPES, MAX_PATTERN_LENGTH, compilePattern, parseSemVer } from '@switchyard/sdk/ruleset';
import { z } from 'zod';

/** Limits on everything a client can send: large enough for real use, small enough to stay fast. */
export const LIMITS = {
  key: 100,
  name: 200,
  description: 4000,
  tags: 20,
  tag: 50,
  variations: 50,
  clauseValues: 1000,
  clauseValue: 1000,
  clauses: 50,
  rules: 200,
  targetValues: 5000,
  unitId: 256,
  attribute: 100,
  /** Prerequisites of one flag in one environment. */
  prerequisites: 20,
  /** Nesting of a JSON variation value: deeper values would overflow the stack in zod and JSON.stringify. */
  jsonDepth: 32,
} as const;

const SLUG = /^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$/;
const SLUG_MESSAGE = 'must be a slug: lowercase letters, digits, ".", "_" or "-", starting and ending with a letter or digit';

export const keySchema = z.string().min(1).max(LIMITS.key).regex(SLUG, SLUG_MESSAGE);
export const attributeSchema = z
  .string()
  .min(1)
  .max(LIMITS.attribute)
  .regex(/^[A-Za-z_$][\w.$-]*$/, 'must be an attribute name (letters, digits, "_", "$", "." or "-")');
export const unitIdSchema = z.string().min(1).max(LIMITS.unitId);
export const variationKeySchema = z.string().min(1).max(64).regex(SLUG, SLUG_MESSAGE);
export const flagTypeSchema = z.enum(FLAG_TYPES);

/** Whether a JSON value nests at most `max` arrays/objects deep; iterative, so any input is safe. */
function nestsWithin(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= max) return false;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return true;
}

// The depth check runs before z.json(), whose recursion would otherwise throw a RangeError (a 500).
const variationValueSchema = z
  .unknown()
  .refine((v) => nestsWithin(v, LIMITS.jsonDepth), { message: `JSON value nested more than ${LIMITS.jsonDepth} levels deep`, abort: true })
  .pipe(z.json())
  .describe('Any JSON value');

export const variationSchema = z.strictObject({
  key: variationKeySchema,
  value: variationValueSchema,
  name: z.string().max(LIMITS.name).optional(),
  description: z.string().max(LIMITS.description).optional(),
});

const clauseValueSchema = z.union([z.string().max(LIMITS.clauseValue), z.number(), z.boolean()]);
const NUMERIC_OPERATORS = new Set(['lt', 'lte', 'gt', 'gte']);
const SEMVER_OPERATORS = new Set(['semver_lt', 'semver_gt', 'semver_eq']);
const STRING_OPERATORS = new Set(['starts_with', 'ends_with', 'contains', 'matches', 'in_segment', 'not_in_segment']);

export const clauseSchema = z
  .strictObject({
    attribute: z.union([attributeSchema, z.literal('')]).default(''),
    operator: z.enum(CLAUSE_OPERATORS),
    values: z.array(clauseValueSchema).min(1).max(LIMITS.clauseValues),
  })
  .superRefine((clause, ctx) => {
    const segmentOperator = clause.operator === 'in_segment' || clause.operator === 'not_in_segment';
    if (!segmentOperator && clause.attribute === '') {
      ctx.addIssue({ code: 'custom', path: ['attribute'], message: `operator ${clause.operator} needs an attribute` });
    }
    clause.values.forEach((value, i) => {
      const path = ['values', i];
      if (NUMERIC_OPERATORS.has(clause.operator) && (typeof value !== 'number' || !Number.isFinite(value))) {
        ctx.addIssue({ code: 'custom', path, message: `operator ${clause.operator} compares numbers; got ${JSON.stringify(value)}` });
      } else if (SEMVER_OPERATORS.has(clause.operator) && (typeof value !== 'string' || parseSemVer(value) === undefined)) {
        ctx.addIssue({ code: 'custom', path, message: `not a semantic version: ${JSON.stringify(value)}` });
      } else if (STRING_OPERATORS.has(clause.operator) && typeof value !== 'string') {
        ctx.addIssue({ code: 'custom', path, message: `operator ${clause.operator} takes strings; got ${JSON.stringify(value)}` });
      } else if (clause.operator === 'matches' && typeof value === 'string') {
        if (value.length > MAX_PATTERN_LENGTH) {
          ctx.addIssue({ code: 'custom', path, message: `regular expression longer than ${MAX_PATTERN_LENGTH} characters` });
        } else if (compilePattern(value) === undefined) {
          ctx.addIssue({ code: 'custom', path, message: `invalid regular expression: ${value}` });
        }
      }
    });
  });

export const weightedVariationSchema = z.strictObject({
  variation: variationKeySchema,
  weight: z.int().min(0).max(BUCKETS),
});

export const rolloutSchema = z
  .strictObject({
    variations: z.array(weightedVariationSchema).min(1).max(LIMITS.variations),
    bucketBy: attributeSchema.optional(),
    salt: z.string().min(1).max(LIMITS.key).optional(),
  })
  .superRefine((rollout, ctx) => {
    const total = rollout.variations.reduce((sum, v) => sum + v.weight, 0);
    if (total !== BUCKETS) {
      ctx.addIssue({ code: 'custom', path: ['variations'], message: `weights must sum to ${BUCKETS} (100%), got ${total}` });
    }
  });

export const serveSchema = z.union([z.strictObject({ variation: variationKeySchema }), z.strictObject({ rollout: rolloutSchema })]);

export const ruleSchema = z.strictObject({
  id: z.string().min(1).max(64).regex(SLUG, SLUG_MESSAGE),
  description: z.string().max(LIMITS.description).optional(),
  clauses: z.array(clauseSchema).max(LIMITS.clauses),
  serve: serveSchema,
});

export const targetSchema = z.strictObject({
  variation: variationKeySchema,
  values: z.array(unitIdSchema).max(LIMITS.targetValues),
});

/** Another flag that must serve `variation` to the same context before this flag's targeting applies. */
export const prerequisiteSchema = z.strictObject({
  flag: keySchema.describe('Key of the required flag (same environment)'),
  variation: variationKeySchema.describe('The variation the required flag must serve'),
});

/** A flag's configuration in one environment, as stored and edited. */
export const flagEnvironmentSchema = z.strictObject({
  on: z.boolean(),
  /** Set by the kill switch; cleared by any stage change. Lets the stage read "kill" rather than "off". */
  killed: z.boolean().default(false),
  offVariation: variationKeySchema,
  /** Optional, so configurations stored before prerequisites existed parse as they are. */
  prerequisites: z
    .array(prerequisiteSchema)
    .max(LIMITS.prerequisites)
    .optional()
    .describe(
      'Flags that must serve a given variation to the same context before this targeting applies, checked in order after `on`; the first one not met (unknown, off or killed, or serving another variation) serves the off variation, reason PREREQUISITE_FAILED',
    ),
  targets: z.array(targetSchema).max(LIMITS.variations),
  rules: z.array(ruleSchema).max(LIMITS.rules),
  defaultServe: serveSchema,
  salt: z.string().min(1).max(LIMITS.key),
  bucketBy: attributeSchema,
  /** Set by the release guard while a guarded rollout runs: SDKs count exposures and attribute tracked events. */
  guarded: z.boolean().optional().describe('Set by the release guard while a guarded rollout runs (SDKs then count exposures); leave it out'),
});
export type FlagEnvironment = z.infer<typeof flagEnvironmentSchema>;

export const tagsSchema = z.array(z.string().min(1).max(LIMITS.tag).regex(/^[\w.:/-]+$/, 'must be a tag: letters, digits, "_", ".", ":", "/" or "-"')).max(LIMITS.tags);

/** A flag as stored: metadata plus one configuration per environment (keyed by environment key). */
export interface Flag {
  key: string;
  name: string;
  description: string;
  tags: string[];
  owner: string;
  type: z.infer<typeof flagTypeSchema>;
  variations: z.infer<typeof variationSchema>[];
  archived: boolean;
  /** Whether client keys (browsers, mobile apps) receive this flag's evaluated value; false for new flags. */
  clientVisible: boolean;
  version: number;
  createdAt: number;
  updatedAt: number;
  updatedBy: string;
  environments: Record<string, FlagEnvironment>;
}

/** A flag before it is stored: the write path stamps version, times and author. */
export type NewFlag = Omit<Flag, 'version' | 'createdAt' | 'updatedAt' | 'updatedBy'>;

/**
 * The entry of a record keyed by a user-chosen name (environment, flag, segment), own keys only:
 * an environment may be called `constructor`, and a missing one must not find Object.prototype's.
 */
export function ownEntry<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Who manages a flag or segment outside the API: the Git file a sync applies (read-only elsewhere). */
export interface Managed<T> {
  value: T;
  /** The sync source (file or directory) that manages it, or null. */
  managedBy: string | null;
}

export const segmentRuleSchema = z.strictObject({
  id: z.string().min(1).max(64).regex(SLUG, SLUG_MESSAGE),
  clauses: z
    .array(clauseSchema)
    .min(1)
    .max(LIMITS.clauses)
    .refine((clauses) => clauses.every((c) => c.operator !== 'in_segment' && c.operator !== 'not_in_segment'), 'segment rules cannot refer to segments'),
});
