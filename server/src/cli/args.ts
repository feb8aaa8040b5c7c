import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** May be given several times (`--tag a --tag b`). */
  multiple?: boolean;
  short?: string;
  /** Placeholder shown in help: `--env ENV`. */
  value?: string;
  description: string;
}
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export interface ArgumentSpec {
  name: string;
  description: string;
  /** May be left out (only the last arguments can be). */
  optional?: boolean;
}

/** Options every client command accepts, before or after the command words. */
export const GLOBAL_OPTIONS = {
  url: { type: 'string', value: 'URL', description: 'Server URL (default: $SWITCHYARD_URL, else http://127.0.0.1:4242)' },
  token: { type: 'string', value: 'TOKEN', description: 'API token (default: $SWITCHYARD_TOKEN)' },
  json: { type: 'boolean', description: "Print the server's JSON response unchanged (for scripts)" },
  help: { type: 'boolean', short: 'h', description: 'Show help for the command' },
} as const satisfies OptionSpecs;

const VALUE_OPTIONS = new Set(Object.entries(GLOBAL_OPTIONS).filter(([, o]) => o.type === 'string').map(([name]) => `--${name}`));

export type OptionValue = string | boolean | string[] | undefined;

export interface ParsedArgs {
  positionals: string[];
  values: Readonly<Record<string, OptionValue>>;
}

/**
 * Separate the command words (`flags`, `list`) from everything else, so global options may come
 * first (`switchyard --url http://x flags list`). Options stay in `rest` in their original order.
 */
export function splitCommandWords(argv: readonly string[], maxWords: (first: string) => number): { words: string[]; rest: string[] } {
  const leading: string[] = [];
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-') && argv[i] !== '--') {
    const token = argv[i]!;
    leading.push(token);
    i += 1;
    if (VALUE_OPTIONS.has(token) && i < argv.length) {
      leading.push(argv[i]!);
      i += 1;
    }
  }
  const words: string[] = [];
  while (i < argv.length && !argv[i]!.startsWith('-') && words.length < (words.length === 0 ? 1 : maxWords(words[0]!))) {
    words.push(argv[i]!);
    i += 1;
  }
  return { words, rest: [...leading, ...argv.slice(i)] };
}

/** Parse a command's arguments strictly; unknown flags and bad values become UsageErrors. */
export function parseCommandArgs(argv: readonly string[], options: OptionSpecs, command: string): ParsedArgs {
  const all: OptionSpecs = { ...GLOBAL_OPTIONS, ...options };
  const config = Object.fromEntries(
    Object.entries(all).map(([name, o]) => [name, { type: o.type, multiple: o.multiple ?? false, ...(o.short ? { short: o.short } : {}) }]),
  );
  const helpHint = `Run "switchyard ${command} --help" for usage.`;
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options: config, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(describeParseError(error, Object.keys(all)), helpHint);
  }
  return { positionals: parsed.positionals, values: parsed.values as Record<string, OptionValue> };
}

function describeParseError(error: unknown, known: string[]): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof Error && 'code' in error ? error.code : undefined;
  const flag = /'(-{1,2}[^' ]+)/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag) {
    const suggestion = closest(flag.replace(/^-+/, ''), known);
    return `unknown flag ${flag}${suggestion ? ` (did you mean --${suggestion}?)` : ''}`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag) {
    return /argument missing/.test(message) ? `flag ${flag} needs a value` : `flag ${flag} does not take a value`;
  }
  return message;
}

/** Check the positional arguments against what the command expects. */
export function expectArguments(parsed: ParsedArgs, expected: readonly ArgumentSpec[], command: string): string[] {
  const { positionals } = parsed;
  const required = expected.filter((a) => !a.optional).length;
  if (positionals.length < required) {
    const missing = expected.slice(positionals.length, required).map((a) => a.name);
    throw new UsageError(`missing ${missing.length > 1 ? 'arguments' : 'argument'} ${missing.join(' ')}`, usageHint(command, expected));
  }
  if (positionals.length > expected.length) {
    const extra = positionals.slice(expected.length).map((p) => JSON.stringify(p));
    throw new UsageError(`unexpected ${extra.length > 1 ? 'arguments' : 'argument'} ${extra.join(' ')}`, usageHint(command, expected));
  }
  return positionals;
}

function usageHint(command: string, expected: readonly ArgumentSpec[]): string {
  const usage = [`switchyard ${command}`, ...expected.map((a) => (a.optional ? `[${a.name}]` : a.name))].join(' ');
  return `Usage: ${usage}. Run "switchyard ${command} --help" for more.`;
}

export function stringOption(values: ParsedArgs['values'], name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function stringsOption(values: ParsedArgs['values'], name: string): string[] {
  const value = values[name];
  if (Array.isArray(value)) return value;
  return typeof value === 'string' ? [value] : [];
}

export function booleanOption(values: ParsedArgs['values'], name: string): boolean {
  return values[name] === true;
}

/** A positive whole number, or a UsageError naming what was expected. */
export function positiveInteger(text: string, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d{1,15}$/.test(text) || Number(text) < 1 || Number(text) > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? 'a positive whole number' : `a whole number from 1 to ${max}`;
    throw new UsageError(`${what} must be ${range}, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/** One of a few fixed words (`on`, `off`), or a UsageError naming them all: `--kind must be server or client, got "browser"`. */
export function oneOf<T extends string>(text: string, choices: readonly T[], what: string, hint?: string): T {
  if ((choices as readonly string[]).includes(text)) return text as T;
  const listed = choices.length > 1 ? `${choices.slice(0, -1).join(', ')} or ${choices.at(-1)!}` : (choices[0] ?? '');
  throw new UsageError(`${what} must be ${listed}, got ${JSON.stringify(text)}`, hint);
}

/** The closest candidate by edit distance, if it is close enough to be a likely typo. */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(input, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(1, Math.floor(input.length / 3)) ? best : undefined;
}

/** Edit distance counting a swap of neighbours as one edit ("evn" is one typo from "env"). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}
