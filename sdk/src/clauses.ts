import { compareSemVer, parseSemVer, type SemVer } from './semver.js';
import type { Clause, ClauseOperator, ClauseValue, EvaluationContext, Segment } from './types.js';

/** A clause compiled once per rule-set update: regexes built, value lists turned into sets. */
export type Matcher = (context: EvaluationContext) => boolean;

/** Longest regex source accepted in a `matches` clause; the server rejects longer ones. */
export const MAX_PATTERN_LENGTH = 500;
/** The flags every `matches` pattern is compiled with; the server analyses patterns with the same ones. */
export const PATTERN_FLAGS = 'u';
/**
 * Attribute strings longer than this never match `matches`, bounding regex work per evaluation.
 * The server refuses patterns with super-linear backtracking when they are saved; this bound also
 * caps the work of any pattern stored before that check existed (was 4096).
 */
export const MAX_MATCHED_LENGTH = 1024;

/** A compiled segment: does a context belong to it? */
export type CompiledSegment = Matcher;

type ScalarTest = (value: string | number | boolean) => boolean;

const STRING_TESTS: Partial<Record<ClauseOperator, (value: string, operand: string) => boolean>> = {
  starts_with: (v, p) => v.startsWith(p),
  ends_with: (v, s) => v.endsWith(s),
  contains: (v, p) => v.includes(p),
};

const NUMBER_TESTS: Partial<Record<ClauseOperator, (value: number, bound: number) => boolean>> = {
  lt: (a, b) => a < b,
  lte: (a, b) => a <= b,
  gt: (a, b) => a > b,
  gte: (a, b) => a >= b,
};

/** Accepts the sign of compareSemVer(attribute, operand). */
const SEMVER_TESTS: Partial<Record<ClauseOperator, (order: number) => boolean>> = {
  semver_lt: (c) => c < 0,
  semver_gt: (c) => c > 0,
  semver_eq: (c) => c === 0,
};

const isString = (v: unknown): v is string => typeof v === 'string';
/** A JSON object (not null, not an array). */
export const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isScalar = (v: unknown): v is string | number | boolean => isString(v) || typeof v === 'number' || typeof v === 'boolean';

/**
 * A context attribute (or a rule set's flag or segment), read from own properties only:
 * `constructor`, `toString` or `__proto__` name an attribute like any other (absent unless the
 * context has it), never something inherited from Object.prototype.
 */
export function own<T>(record: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(record, name) ? record[name] : undefined;
}

/**
 * How a clause reads its attribute, decided once at compile time. A name without a dot is a
 * top-level attribute. A dotted name (`company.plan`) is the top-level attribute of that exact name
 * when the context has one, else the path through nested objects (`context.company.plan`), own
 * properties only at every level. Flat names never pay for the path.
 */
export function attributeReader(name: string): (context: EvaluationContext) => unknown {
  const path = name.split('.');
  if (path.length < 2) return (context) => own(context, name);
  return (context) => {
    if (Object.hasOwn(context, name)) return context[name];
    let value: unknown = context;
    for (let i = 0; i < path.length && value !== undefined; i++) {
      value = isObject(value) ? own(value, path[i]!) : undefined;
    }
    return value;
  };
}

/** A regex, or undefined when the pattern is invalid or too long (such a clause never matches). */
export function compilePattern(pattern: string): RegExp | undefined {
  try {
    return pattern.length > MAX_PATTERN_LENGTH ? undefined : new RegExp(pattern, PATTERN_FLAGS);
  } catch {
    return undefined;
  }
}

function scalarTest({ operator, values }: Clause): ScalarTest {
  if (operator === 'in' || operator === 'not_in') {
    const set = new Set<ClauseValue>(values);
    return (v) => set.has(v);
  }
  const strings = values.filter(isString);
  const byNumber = NUMBER_TESTS[operator];
  if (byNumber) {
    const bounds = values.filter((v): v is number => Number.isFinite(v));
    return (v) => typeof v === 'number' && bounds.some((b) => byNumber(v, b));
  }
  const bySemVer = SEMVER_TESTS[operator];
  if (bySemVer) {
    const versions = strings.map(parseSemVer).filter((s): s is SemVer => s !== undefined);
    // Users share few app versions: the last parse is remembered, sparing a regex run per evaluation.
    let lastValue: unknown;
    let parsed: SemVer | undefined;
    return (v) => {
      if (v !== lastValue) parsed = isString((lastValue = v)) ? parseSemVer(v as string) : undefined;
      return parsed !== undefined && versions.some((b) => bySemVer(compareSemVer(parsed!, b)));
    };
  }
  if (operator === 'matches') {
    const regexes = strings.map(compilePattern).filter((r): r is RegExp => r !== undefined);
    return (v) => isString(v) && v.length <= MAX_MATCHED_LENGTH && regexes.some((r) => r.test(v));
  }
  const byString = STRING_TESTS[operator];
  return byString ? (v) => isString(v) && strings.some((s) => byString(v, s)) : () => false;
}

/** Only strings, numbers, booleans and arrays of them can match; anything else (objects, functions) never does. */
function anyValue(attribute: unknown, test: ScalarTest): boolean {
  if (!Array.isArray(attribute)) return isScalar(attribute) && test(attribute);
  for (let i = 0; i < attribute.length; i++) if (isScalar(attribute[i]) && test(attribute[i])) return true;
  return false;
}

/** Module-level, so the matcher holds its segments, not the whole segment map. */
function inSegments(members: readonly CompiledSegment[], expected: boolean): Matcher {
  return (context) => members.some((contains) => contains(context)) === expected;
}

/**
 * Compile one clause. A missing attribute never matches (not even `not_in`), as in LaunchDarkly:
 * "country not in [US]" says nothing about a user whose country is unknown.
 */
export function compileClause(clause: Clause, segments: ReadonlyMap<string, CompiledSegment>): Matcher {
  const { operator, attribute } = clause;
  // `in_segment` or `not_in_segment` (the only operators ending so).
  if (operator.endsWith('in_segment')) {
    const members: CompiledSegment[] = [];
    for (const key of clause.values) {
      const member = segments.get(key as string);
      if (member) members.push(member);
    }
    return inSegments(members, operator === 'in_segment');
  }
  const test = scalarTest(clause);
  const read = attributeReader(attribute);
  if (operator === 'not_in') {
    return (context) => {
      const value = read(context);
      return (isScalar(value) || Array.isArray(value)) && !anyValue(value, test);
    };
  }
  return (context) => anyValue(read(context), test);
}

/** All clauses must match (AND); an empty list matches everyone. */
export function compileClauses(clauses: readonly Clause[], segments: ReadonlyMap<string, CompiledSegment>): Matcher {
  const matchers: Matcher[] = [];
  for (const clause of clauses) matchers.push(compileClause(clause, segments)); // no closure: the AND below must not hold `segments`
  if (matchers.length === 1) return matchers[0]!;
  return (context) => {
    for (let i = 0; i < matchers.length; i++) if (!matchers[i]!(context)) return false;
    return true;
  };
}

/**
 * The string ID a context carries in `attribute` (numbers are accepted as their decimal form).
 * An empty string is no ID: `targetingKey: ""` must not put every anonymous caller in one bucket.
 */
export function unitId(context: EvaluationContext, attribute: string): string | undefined {
  const value = own(context, attribute);
  if (Number.isFinite(value)) return String(value);
  return isString(value) && value !== '' ? value : undefined;
}

/** Segments: excluded IDs win over everything, then included IDs, then any rule (OR of ANDs). */
export function compileSegment(segment: Segment): CompiledSegment {
  const attribute = segment.unitAttribute ?? 'userId';
  const included = new Set(segment.included);
  const excluded = new Set(segment.excluded);
  const rules = segment.rules.map((r) => compileClauses(r.clauses, new Map()));
  return (context) => {
    const id = unitId(context, attribute)!; // no ID (undefined) is in neither set
    return !excluded.has(id) && (included.has(id) || rules.some((rule) => rule(context)));
  };
}

export function compileSegments(segments: Record<string, Segment>): Map<string, CompiledSegment> {
  const compiled = new Map<string, CompiledSegment>();
  for (const key of Object.keys(segments)) compiled.set(key, compileSegment(segments[key]!));
  return compiled;
}
