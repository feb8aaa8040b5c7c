import type { Clause, FlagConfig, RuleSet, Segment } from '@switchyard/sdk';
import { PATTERN_FLAGS } from '@switchyard/sdk/ruleset';
import { check, type Diagnostics } from 'recheck';
import { assertNoProblems, type PatternSite } from '../domain/flag-validation.js';
import type { ErrorDetail } from '../domain/errors.js';

/**
 * Regular-expression denial of service: a `matches` pattern with super-linear backtracking, such as
 * `^(a+)+$`, lets one request with a crafted attribute block the server (OFREP) or an application
 * (local evaluation) for seconds to years. Patterns are refused when they are saved unless the
 * analyser (recheck: automaton-based, exact verdicts) proves them linear.
 *
 * The analysis is asynchronous and runs outside the event loop (recheck's native agent process, or
 * a worker thread), which is why it lives in the services layer rather than in `domain/`.
 */

/** How long one pattern may be analysed; a pattern that takes longer is refused as "could not be proven safe". */
export const PATTERN_ANALYSIS_TIMEOUT_MS = 2_000;
/** How long the analysis of one save may take in all, however many new patterns it brings. */
export const PATTERN_ANALYSIS_BUDGET_MS = 10_000;
/** Verdicts remembered (oldest forgotten first): repeated saves, GitOps files and rule-set loads re-check the same patterns. */
const VERDICT_CACHE_SIZE = 10_000;

/**
 * Pattern → why it is refused (undefined: safe). A memo of a pure function of the pattern, so
 * per-process state is fine here: every replica reaches the same verdicts.
 */
const verdicts = new Map<string, string | undefined>();

/**
 * Patterns found vulnerable, kept for the life of the process (bounded by what is stored): a
 * pattern saved before the check existed is neither evaluated nor shipped to SDKs by this server.
 */
const refused = new Set<string>();
/** Stored patterns the analyser could not decide when a rule set was loaded: kept as they are, not analysed on every load. */
const undecided = new Set<string>();

function remember(pattern: string, problem: string | undefined): void {
  if (verdicts.size >= VERDICT_CACHE_SIZE) verdicts.delete(verdicts.keys().next().value!);
  verdicts.set(pattern, problem);
}

/** Printable, short: control characters escaped, long attack strings cut. */
function printable(text: string, max = 40): string {
  const escaped = JSON.stringify(text).slice(1, -1);
  return escaped.length > max ? `${escaped.slice(0, max)}…` : escaped;
}

/** An input that makes the pattern slow, in the analyser's words: prefix, the pumped part a few times, "…", the suffix. */
function attackExample(attack: { pumps: { prefix: string; pump: string }[]; suffix: string }): string {
  const pumped = attack.pumps.map((p) => printable(p.prefix, 12) + printable(p.pump.repeat(4), 16)).join('');
  return `${pumped}…${printable(attack.suffix, 12)}`;
}

/** The parts of the pattern the analyser found backtracking, e.g. `"a+"` or `".", "\w"`. */
function hotspots(pattern: string, spots: readonly { start: number; end: number; temperature: string }[]): string {
  const parts = [...new Set(spots.filter((s) => s.temperature === 'heat').map((s) => pattern.slice(s.start, s.end)))];
  return parts.length === 0 ? '' : ` at ${parts.slice(0, 3).map((p) => `"${p}"`).join(', ')}`;
}

/** Why a verdict refuses the pattern, or undefined when it is safe (constant or linear time). */
function verdictProblem(pattern: string, result: Diagnostics, timeoutMs: number): string | undefined {
  if (result.status === 'safe') return undefined;
  if (result.status === 'unknown') {
    const { error } = result;
    const why = error.kind === 'timeout' || error.kind === 'cancel' ? `the analysis did not finish within ${timeoutMs} ms` : `${error.kind}: ${error.message}`;
    return `pattern "${pattern}" could not be proven safe from catastrophic backtracking (${why}); simplify it, e.g. fewer or bounded repetitions`;
  }
  const example = attackExample(result.attack);
  const where = hotspots(pattern, result.hotspot);
  if (result.complexity.type === 'exponential') {
    return `pattern "${pattern}" can take exponential time on inputs like "${example}" (nested or overlapping repetition${where}); rewrite it without nested or overlapping repetition, e.g. "a+" instead of "(a+)+"`;
  }
  return (
    `pattern "${pattern}" can take polynomial time (${result.complexity.summary}) on inputs like "${example}" (repetitions that can match the same text${where}); ` +
    'make each repetition unable to match what surrounds it, e.g. "[^@]+" instead of ".+" or ".*", or anchor it with "^"'
  );
}

/** Resolves after `ms` with `value` (the timer does not keep the process alive). */
function after<T>(ms: number, value: T): { promise: Promise<T>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(value), ms);
    timer.unref();
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/**
 * Why `pattern` is refused (super-linear backtracking, or not provably linear within `timeoutMs`),
 * or undefined when it is safe. Analysed with the flags the SDK compiles it with.
 */
export async function patternProblem(pattern: string, timeoutMs = PATTERN_ANALYSIS_TIMEOUT_MS): Promise<string | undefined> {
  if (verdicts.has(pattern)) return verdicts.get(pattern);
  const timedOut: Diagnostics = { source: pattern, flags: PATTERN_FLAGS, status: 'unknown', error: { kind: 'timeout' } };
  // recheck honours `timeout` itself; the extra guard covers an analyser process that died.
  const guard = after(timeoutMs + 1_000, timedOut);
  let result: Diagnostics;
  try {
    result = await Promise.race([check(pattern, PATTERN_FLAGS, { timeout: timeoutMs }), guard.promise]);
  } catch (error) {
    result = { ...timedOut, error: { kind: 'unexpected', message: error instanceof Error ? error.message : String(error) } };
  } finally {
    guard.cancel();
  }
  const problem = verdictProblem(pattern, result, timeoutMs);
  // A timeout may be the machine's load rather than the pattern: only definite verdicts are kept.
  if (result.status !== 'unknown') remember(pattern, problem);
  if (result.status === 'vulnerable') refused.add(pattern);
  return problem;
}

/**
 * The problems of every `matches` pattern in `sites` (each distinct pattern analysed once, one
 * after the other, within PATTERN_ANALYSIS_BUDGET_MS for the whole save).
 */
export async function patternProblems(sites: readonly PatternSite[], budgetMs = PATTERN_ANALYSIS_BUDGET_MS): Promise<ErrorDetail[]> {
  const deadline = Date.now() + budgetMs;
  const problems = new Map<string, string | undefined>();
  for (const { pattern } of sites) {
    if (problems.has(pattern)) continue;
    const left = deadline - Date.now();
    const problem =
      verdicts.has(pattern) || left > 0
        ? await patternProblem(pattern, Math.min(PATTERN_ANALYSIS_TIMEOUT_MS, Math.max(left, 1)))
        : `pattern "${pattern}" was not analysed: this change brings more new patterns than can be checked in ${budgetMs / 1000} s; save it in smaller changes`;
    problems.set(pattern, problem);
  }
  return sites.flatMap(({ path, pattern }) => {
    const message = problems.get(pattern);
    return message === undefined ? [] : [{ path, message }];
  });
}

/** Throws a 400 `validation_failed` naming the path of every refused pattern. */
export async function assertSafePatterns(sites: readonly PatternSite[]): Promise<void> {
  if (sites.length > 0) assertNoProblems(await patternProblems(sites));
}

const isRefused = (value: unknown) => typeof value === 'string' && refused.has(value);
const refusesSome = (clause: Clause) => clause.operator === 'matches' && clause.values.some(isRefused);

/** Rules without refused patterns (the same array when none has one): a clause left without patterns never matches. */
function screenRules<R extends { clauses: Clause[] }>(rules: R[]): R[] {
  if (refused.size === 0 || !rules.some((rule) => rule.clauses.some(refusesSome))) return rules;
  return rules.map((rule) => (rule.clauses.some(refusesSome) ? { ...rule, clauses: rule.clauses.map((c) => (refusesSome(c) ? { ...c, values: c.values.filter((v) => !isRefused(v)) } : c)) } : rule));
}

/** A flag or segment as this server evaluates and ships it: without patterns found vulnerable. */
export function screened<T extends FlagConfig | Segment>(item: T): T {
  const rules = screenRules<T['rules'][number]>(item.rules);
  return rules === item.rules ? item : { ...item, rules };
}

/** Flags or segments by key (null: deleted), screened; the same record when nothing changes. */
function screenedRecord<T extends FlagConfig | Segment>(items: Record<string, T | null>): Record<string, T | null> {
  if (refused.size === 0) return items;
  return Object.fromEntries(Object.entries(items).map(([key, item]) => [key, item && screened(item)]));
}

/**
 * A rule set loaded from the database, screened: every pattern it holds is analysed first (cached
 * verdicts make this cheap after the first load). Patterns saved since are safe by construction,
 * so feed patches need only the synchronous `screenedRecord`.
 */
export async function screenRuleSet(ruleSet: RuleSet): Promise<RuleSet> {
  const patterns = new Set<string>();
  for (const item of [...Object.values(ruleSet.flags), ...Object.values(ruleSet.segments)]) {
    for (const rule of item.rules) for (const clause of rule.clauses) if (clause.operator === 'matches') for (const v of clause.values) if (typeof v === 'string') patterns.add(v);
  }
  for (const pattern of patterns) {
    if (verdicts.has(pattern) || undecided.has(pattern)) continue;
    // Only a definite "vulnerable" verdict drops a stored pattern; a timeout may be the machine's load.
    if ((await patternProblem(pattern)) !== undefined && !refused.has(pattern)) undecided.add(pattern);
  }
  if (refused.size === 0) return ruleSet;
  return { ...ruleSet, flags: screenedRecord(ruleSet.flags) as RuleSet['flags'], segments: screenedRecord(ruleSet.segments) as RuleSet['segments'] };
}

/** A feed patch for SDK streams, screened like the rule sets they start from. */
export function screenedChange<C extends { flags: Record<string, FlagConfig | null>; segments: Record<string, Segment | null> }>(change: C): C {
  return refused.size === 0 ? change : { ...change, flags: screenedRecord(change.flags), segments: screenedRecord(change.segments) };
}
