import { compareSemVer, parseSemVer, type SemVer } from './semver.js';
import type { Clause, ClauseValue, ContextValue, EvaluationContext, Segment } from './types.js';

/** A clause compiled once per rule-set update: regexes built, value lists turned into sets. */
export type Matcher = (context: EvaluationContext) => boolean;

/** Longest regex source accepted in a `matches` clause; the server rejects longer ones. */
export const MAX_PATTERN_LENGTH = 500;
/** Attribute strings longer than this never match `matches`, bounding regex work per evaluation. */
export const MAX_MATCHED_LENGTH = 4096;

export interface CompiledSegment {
  readonly key: string;
  contains(context: EvaluationContext): boolean;
}

type ScalarTest = (value: string | number | boolean) => boolean;

function anyValue(attribute: ContextValue, test: ScalarTest): boolean {
  if (attribute === undefined || attribute === null) return false;
  if (typeof attribute === 'object') {
    for (const item of attribute) if (test(item)) return true;
    return false;
  }
  return test(attribute);
}

function strings(values: readonly ClauseValue[]): string[] {
  return values.filter((v): v is string => typeof v === 'string');
}

function numbers(values: readonly ClauseValue[]): number[] {
  return values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
}

/** A regex, or undefined when the pattern is invalid or too long (such a clause never matches). */
export function compilePattern(pattern: string): RegExp | undefined {
  if (pattern.length > MAX_PATTERN_LENGTH) return undefined;
  try {
    return new RegExp(pattern, 'u');
  } catch {
    return undefined;
  }
}

function scalarTest(clause: Clause): ScalarTest | undefined {
  const { operator, values } = clause;
  switch (operator) {
    case 'in':
    case 'not_in': {
      const set = new Set<ClauseValue>(values);
      return (v) => set.has(v);
    }
    case 'starts_with': {
      const prefixes = strings(values);
      return (v) => typeof v === 'string' && prefixes.some((p) => v.startsWith(p));
    }
    case 'ends_with': {
      const suffixes = strings(values);
      return (v) => typeof v === 'string' && suffixes.some((s) => v.endsWith(s));
    }
    case 'contains': {
      const parts = strings(values);
      return (v) => typeof v === 'string' && parts.some((p) => v.includes(p));
    }
    case 'matches': {
      const regexes = strings(values)
        .map(compilePattern)
        .filter((r): r is RegExp => r !== undefined);
      return (v) => typeof v === 'string' && v.length <= MAX_MATCHED_LENGTH && regexes.some((r) => r.test(v));
    }
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte': {
      const bounds = numbers(values);
      const cmp =
        operator === 'lt'
          ? (a: number, b: number) => a < b
          : operator === 'lte'
            ? (a: number, b: number) => a <= b
            : operator === 'gt'
              ? (a: number, b: number) => a > b
              : (a: number, b: number) => a >= b;
      return (v) => typeof v === 'number' && bounds.some((b) => cmp(v, b));
    }
    case 'semver_lt':
    case 'semver_gt':
    case 'semver_eq': {
      const versions = strings(values)
        .map(parseSemVer)
        .filter((s): s is SemVer => s !== undefined);
      const accept =
        operator === 'semver_lt' ? (c: number) => c < 0 : operator === 'semver_gt' ? (c: number) => c > 0 : (c: number) => c === 0;
      return (v) => {
        if (typeof v !== 'string') return false;
        const parsed = parseSemVer(v);
        return parsed !== undefined && versions.some((b) => accept(compareSemVer(parsed, b)));
      };
    }
    default:
      return undefined;
  }
}

/**
 * Compile one clause. A missing attribute never matches (not even `not_in`), as in LaunchDarkly:
 * "country not in [US]" says nothing about a user whose country is unknown.
 */
export function compileClause(clause: Clause, segments: ReadonlyMap<string, CompiledSegment>): Matcher {
  if (clause.operator === 'in_segment' || clause.operator === 'not_in_segment') {
    const targets = strings(clause.values)
      .map((key) => segments.get(key))
      .filter((s): s is CompiledSegment => s !== undefined);
    const inAny = (context: EvaluationContext) => targets.some((s) => s.contains(context));
    return clause.operator === 'in_segment' ? inAny : (context) => !inAny(context);
  }
  const test = scalarTest(clause) ?? (() => false);
  const attribute = clause.attribute;
  if (clause.operator === 'not_in') {
    return (context) => {
      const value = context[attribute];
      return value !== undefined && value !== null && !anyValue(value, test);
    };
  }
  return (context) => anyValue(context[attribute], test);
}

export function compileClauses(clauses: readonly Clause[], segments: ReadonlyMap<string, CompiledSegment>): Matcher {
  const matchers = clauses.map((c) => compileClause(c, segments));
  if (matchers.length === 0) return () => true;
  if (matchers.length === 1) return matchers[0]!;
  return (context) => {
    for (const m of matchers) if (!m(context)) return false;
    return true;
  };
}

/** The string ID a context carries in `attribute` (numbers are accepted as their decimal form). */
export function unitId(context: EvaluationContext, attribute: string): string | undefined {
  const value = context[attribute];
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** Segments: excluded IDs win over everything, then included IDs, then any rule (OR of ANDs). */
export function compileSegment(segment: Segment): CompiledSegment {
  const attribute = segment.unitAttribute ?? 'userId';
  const included = new Set(segment.included);
  const excluded = new Set(segment.excluded);
  const noSegments = new Map<string, CompiledSegment>();
  const rules = segment.rules.map((r) => compileClauses(r.clauses, noSegments));
  return {
    key: segment.key,
    contains(context) {
      const id = unitId(context, attribute);
      if (id !== undefined) {
        if (excluded.has(id)) return false;
        if (included.has(id)) return true;
      }
      for (const rule of rules) if (rule(context)) return true;
      return false;
    },
  };
}

export function compileSegments(segments: Record<string, Segment>): Map<string, CompiledSegment> {
  const compiled = new Map<string, CompiledSegment>();
  for (const key of Object.keys(segments)) compiled.set(key, compileSegment(segments[key]!));
  return compiled;
}
