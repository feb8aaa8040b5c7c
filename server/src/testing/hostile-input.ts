import fc from 'fast-check';
import type { JsonSchema } from './openapi-operations.js';

/**
 * fast-check arbitraries for hostile HTTP input: wrong types, huge strings and numbers, deep
 * nesting, prototype keys, NUL bytes and odd unicode, path traversal, bad JSON. Used by the
 * OpenAPI-driven fuzzer (http/openapi-fuzz.test.ts).
 */

/** Names that are properties of every plain object: lookups by user-chosen key must not find them. */
export const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'] as const;

export const HOSTILE_STRINGS: readonly string[] = [
  '', ' ', '\t\n', ...PROTOTYPE_NAMES,
  '../', '../../etc/passwd', '..%2f..%2fetc', '%2e%2e%2f', '%2e%2e/', '..\\..\\', '.', '..',
  '\u0000', 'a\u0000b', '%00', '\uD800', '\uDFFF', 'a\uDBFFz', '\u202Eevil', 'x\u200F', '\uFEFFbom', '\u2028', 'Ω≈ç√', '🚀', 'e\u0301',
  '%', '%zz', '%%', '?', '#', '/', '//', ';',
  "' OR '1'='1", '"; DROP TABLE flags; --', '${7*7}', '{{7*7}}', '<script>alert(1)</script>',
  'NaN', 'Infinity', '-1', '0', '1e400', '9'.repeat(40), 'true', 'null', '[]', '{}',
  '(a+)+$', '(.*)*x', '[', '\\',
];

/** Text that nests deeply once parsed (JSON or YAML): recursive parsers and walkers overflow their stack. */
export const DEEP_TEXTS: readonly string[] = ['['.repeat(10_000), '{"a":'.repeat(10_000), '- '.repeat(10_000) + 'x', 'a:\n' + Array.from({ length: 2_000 }, (_, i) => `${' '.repeat(i + 1)}a:`).join('\n')];

/** Big enough to cross limits: field maximums, the 1 MiB body limit. */
export const HUGE_LENGTHS = [1_000, 10_000, 100_000, 1_200_000] as const;

/** Numbers JSON can carry that code often mishandles. */
export const HOSTILE_NUMBERS: readonly number[] = [0, -0, -1, 1.5, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 1e21];

/**
 * JSON text spliced into a body as is (see `toJsonText`): numbers JSON.stringify cannot write
 * (1e400 parses to Infinity) and nesting 10,000 levels deep.
 */
const RAW_START = '\u0001RAW:';
const RAW_END = '\u0001';
export const raw = (text: string): string => `${RAW_START}${text}${RAW_END}`;

export const deepArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
export const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

export const RAW_VALUES: readonly string[] = [
  '1e400', '-1e400', '123456789012345678901234567890', '-0.0', '1E+2',
  deepArray(10_000), deepObject(10_000), deepArray(100_000),
];

/** Whole bodies that are not (good) JSON, or JSON of the wrong shape. */
export const RAW_BODIES: readonly string[] = [
  '', '{', '{"a":', 'null', 'true', '1', '"text"', '[]', '[{}]',
  '{"key":"a","key":"b"}', '{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"polluted":true}}}',
  '\uFEFF{}', '{}garbage', "{'single':1}", '{"a":1,}', 'NaN', '{"a":"\\ud800"}', '{"a":"\u0000"}', '{"a":"\\u0000"}',
  deepArray(10_000), deepObject(10_000), `{"document":${deepObject(10_000)}}`, `{"context":${deepObject(10_000)}}`,
  `{"a":"${'x'.repeat(1_200_000)}"}`,
];

/** JSON.stringify, with `raw(…)` strings replaced by their text. */
export function toJsonText(value: unknown): string {
  const text = JSON.stringify(value) ?? 'null';
  return text.replace(/"\\u0001RAW:((?:[^"\\]|\\.)*?)\\u0001"/g, (_, escaped: string) => JSON.parse(`"${escaped}"`) as string);
}

/**
 * Node's HTTP parser answers 431 to request heads over 16 KiB before the app sees them; `inject`
 * has no such limit, so longer URLs would only test the query-string parser's speed.
 */
export const MAX_URL_TEXT = 8_000;

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...HUGE_LENGTHS), fc.constantFrom('x', 'é', '\u0000')).map(([n, c]) => c.repeat(n)) },
  { weight: 1, arbitrary: fc.constantFrom(...DEEP_TEXTS) },
);

const hostileScalar: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_NUMBERS) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.constantFrom(true, false, null) },
  { weight: 2, arbitrary: fc.constantFrom(...RAW_VALUES).map(raw) },
);

/** Hostile strings short enough for a URL. */
export const hostileUrlString: fc.Arbitrary<string> = hostileString.map((text) => (text.length > MAX_URL_TEXT ? text.slice(0, MAX_URL_TEXT) : text));

export const hostileKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...PROTOTYPE_NAMES) },
  { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
);

/** An object whose own keys may be `__proto__` & co. (Object.fromEntries defines, never assigns.) */
const objectOf = (key: fc.Arbitrary<string>, value: fc.Arbitrary<unknown>) =>
  fc.array(fc.tuple(key, value), { maxLength: 4 }).map((entries) => Object.fromEntries(entries) as Record<string, unknown>);

/** Any JSON value, hostile at every level. */
export const hostileValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 3, depthIdentifier: 'hostile' },
    { weight: 5, arbitrary: hostileScalar },
    { weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 4 }) },
    { weight: 1, arbitrary: objectOf(hostileKey, tie('value')) },
  ),
})).value;

/** Plausible strings for fields the schema only says are strings: real keys make requests get further. */
export const PLAUSIBLE_STRINGS = ['f', 'm', 'production', 'staging', 'internal', 'on', 'off', 'a', 'b', 'userId', 'dogfood', '10%', 'kill', '100%', 'http://127.0.0.1:9/hook', 'flags:\n  - key: g\n'] as const;

/**
 * How far a generated body strays from its schema. `minimal`: required fields only, with values
 * that fit (most succeed, so later requests meet more state). `shaped`: the schema's types, required fields
 * and no unknown ones, with hostile strings (prototype names, NUL, traversal, odd unicode) where
 * strings go — these reach the services. `hostile`: anywhere, any value (wrong types, huge
 * numbers, deep nesting, unknown and prototype keys) — these test validation.
 */
export type Strictness = 'minimal' | 'shaped' | 'hostile';

export function fromSchema(schema: JsonSchema, resolve: (s: JsonSchema) => JsonSchema, strictness: Strictness = 'hostile', depth = 0): fc.Arbitrary<unknown> {
  const s = resolve(schema);
  if (depth > 5) return strictness === 'hostile' ? hostileValue : fc.constant(null);
  const follow = schemaShaped(s, resolve, strictness, depth);
  return strictness === 'hostile' ? fc.oneof({ weight: 5, arbitrary: follow }, { weight: 1, arbitrary: hostileValue }) : follow;
}

const typeValidString: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...PLAUSIBLE_STRINGS) },
  { weight: 2, arbitrary: fc.constantFrom(...PROTOTYPE_NAMES) },
  { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom(...DEEP_TEXTS) },
);

/** Mostly strings the field accepts (its pattern and length), so the request gets past validation. */
function fittingString(s: JsonSchema, strictness: Strictness): fc.Arbitrary<string> {
  const pattern = s.pattern === undefined ? undefined : new RegExp(s.pattern, 'u');
  const fits = (text: string) => (pattern?.test(text) ?? true) && text.length >= (s.minLength ?? 0) && text.length <= (s.maxLength ?? Infinity);
  const plausible = PLAUSIBLE_STRINGS.filter(fits);
  const generated = pattern ? fc.stringMatching(pattern).filter(fits) : fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 20, 20) });
  return fc.oneof(
    { weight: 4, arbitrary: plausible.length > 0 ? fc.constantFrom(...plausible) : generated },
    { weight: 2, arbitrary: generated },
    { weight: strictness === 'minimal' ? 0 : 2, arbitrary: typeValidString },
  );
}

function schemaShaped(s: JsonSchema, resolve: (s: JsonSchema) => JsonSchema, strictness: Strictness, depth: number): fc.Arbitrary<unknown> {
  const next = (child: JsonSchema) => fromSchema(child, resolve, strictness, depth + 1);
  const branches = s.anyOf ?? s.oneOf;
  if (branches && branches.length > 0) return fc.oneof(...branches.map(next));
  if (s.enum && s.enum.length > 0) return fc.constantFrom(...s.enum);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'string':
      return strictness === 'hostile' ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...PLAUSIBLE_STRINGS) }, { weight: 2, arbitrary: hostileString }) : fittingString(s, strictness);
    case 'integer':
    case 'number': {
      const min = Math.max(Math.ceil(s.minimum ?? -1000), -1_000_000_000);
      const max = Math.max(min, Math.min(Math.floor(s.maximum ?? min + 2000), 1_000_000_000));
      // The schema's own bounds and 32-bit edges: columns narrower than the schema overflow there.
      const edges = [1, 2, 3, 10, 50_000, 100_000, 2 ** 31 - 1, 2 ** 31, s.minimum ?? 0, s.maximum ?? Number.MAX_SAFE_INTEGER].filter((n) => n >= (s.minimum ?? -Infinity) && n <= (s.maximum ?? Infinity));
      const inRange = fc.oneof(fc.constantFrom(...edges), fc.integer({ min, max }));
      return strictness === 'hostile' ? fc.oneof({ weight: 4, arbitrary: inRange }, { weight: 2, arbitrary: hostileScalar }) : inRange;
    }
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(next(s.items ?? {}), { maxLength: 4 });
    case 'object': {
      const properties = Object.entries(s.properties ?? {});
      const required = strictness === 'hostile' ? [] : (s.required ?? []);
      const wanted = strictness === 'minimal' ? properties.filter(([name]) => required.includes(name)) : properties;
      const known = wanted.length === 0 ? fc.constant({}) : fc.record(Object.fromEntries(wanted.map(([name, p]) => [name, next(p)])), { requiredKeys: required });
      if (strictness === 'minimal') return known;
      const keys = strictness === 'hostile' ? fc.oneof(fc.constantFrom(...PLAUSIBLE_STRINGS), hostileKey) : typeValidString;
      const extra =
        typeof s.additionalProperties === 'object'
          ? objectOf(keys, next(s.additionalProperties))
          : strictness === 'hostile' || s.additionalProperties === true || s.additionalProperties === undefined
            ? objectOf(hostileKey, hostileValue)
            : fc.constant({});
      return fc.tuple(known, fc.oneof({ weight: 3, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: extra })).map(([a, b]) => Object.assign(Object.fromEntries(Object.entries(b)), a));
    }
    default:
      return strictness === 'hostile' ? hostileValue : fc.oneof(typeValidString, fc.integer(), fc.boolean());
  }
}
