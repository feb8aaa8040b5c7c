import type { FlagConfig } from '@switchyard/sdk';
import { describe, expect, it } from 'vitest';
import { patternProblem, patternProblems, screened } from './pattern-safety.js';

/**
 * The ReDoS check of `matches` patterns (recheck, with the SDK's `u` flag): every pattern known to
 * backtrack super-linearly is refused, every everyday targeting pattern is accepted.
 */

interface PatternCase {
  name: string;
  pattern: string;
  /** For refused patterns: what the message must say about the complexity. */
  complexity?: RegExp;
}

const CATASTROPHIC: PatternCase[] = [
  { name: 'nested plus (the issue)', pattern: '^(a+)+$', complexity: /exponential/ },
  { name: 'alternation of equals under star', pattern: '(a|a)*$', complexity: /exponential/ },
  { name: 'overlapping alternation under plus', pattern: '(a|aa)+$', complexity: /exponential/ },
  { name: 'words with optional spaces', pattern: '^(\\w+\\s?)*$', complexity: /exponential/ },
  { name: 'repeated dot-star group', pattern: '(.*a){12}', complexity: /polynomial/ },
  { name: 'Java class name (OWASP)', pattern: '^(([a-z])+.)+[A-Z]([a-z])+$', complexity: /exponential/ },
  {
    name: 'OWASP email validation',
    pattern: '^([a-zA-Z0-9])(([\\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}(([a-z]{2,3})|([a-z]{2,3}[.]{1}[a-z]{2,3}))$',
    complexity: /exponential/,
  },
  { name: 'star of star', pattern: '(a*)*b', complexity: /exponential/ },
  { name: 'star of plus', pattern: '(a+)*b', complexity: /exponential/ },
  { name: 'two pluses in a plus', pattern: '(x+x+)+y', complexity: /exponential/ },
  { name: 'digits in a star', pattern: '(\\d+)*$', complexity: /exponential/ },
  { name: 'alphanumeric words with optional spaces', pattern: '^([a-zA-Z0-9]+\\s?)*$', complexity: /exponential/ },
  { name: 'overlapping classes \\w|\\d', pattern: '(\\w|\\d)+$', complexity: /exponential/ },
  { name: 'CSV field counter', pattern: '^(.*?,){11}P', complexity: /polynomial/ },
  { name: 'trailing whitespace with optional hash', pattern: '\\s*#?\\s*$', complexity: /polynomial/ },
  { name: 'words after optional spaces', pattern: '^(\\s*\\w+)*$', complexity: /exponential/ },
  { name: 'a|b|ab under star', pattern: '(a|b|ab)*c', complexity: /exponential/ },
  { name: 'dotted words before a domain', pattern: '^(\\w+\\.?)*@example\\.com$', complexity: /exponential/ },
  { name: 'three dot-stars', pattern: '.*.*=.*', complexity: /polynomial/ },
  { name: 'integers or decimals repeated', pattern: '^(\\d+|\\d+\\.\\d+)*$', complexity: /exponential/ },
  { name: 'nested word plus before @', pattern: '^(\\w+)+@', complexity: /exponential/ },
  { name: 'nested negated class', pattern: '([^@]+)+@', complexity: /exponential/ },
  { name: 'unanchored dot-star between literals', pattern: 'foo.*bar', complexity: /polynomial/ },
  { name: 'optional alternative under plus', pattern: '^(a|a?)+$', complexity: /exponential/ },
  { name: 'words with optional runs of spaces', pattern: '^(\\w+\\s*)+$', complexity: /exponential/ },
  { name: 'dot-plus in a plus', pattern: '(.+)+x', complexity: /exponential/ },
  { name: 'dot-star in a star', pattern: '^(.*)*$', complexity: /exponential/ },
];

const USEFUL: PatternCase[] = [
  { name: 'email domain', pattern: '@acme\\.com$' },
  { name: 'locale', pattern: '^(en|de|fr)-[A-Z]{2}$' },
  { name: 'numbered user id', pattern: '^user-\\d+$' },
  { name: 'semantic version', pattern: '^v?\\d+\\.\\d+\\.\\d+$' },
  { name: 'email shape with negated classes', pattern: '^[^@]+@[^@]+\\.[a-z]{2,}$' },
  { name: 'Apple devices', pattern: '(iPhone|iPad|iPod)' },
  { name: 'email at one domain', pattern: '^[a-z0-9._%+-]+@example\\.com$' },
  { name: 'prefix', pattern: '^beta-' },
  { name: 'browser version', pattern: 'Chrome/\\d+' },
  { name: 'country list', pattern: '^(US|CA|MX)$' },
  { name: 'UUID', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' },
  { name: 'internal host suffix', pattern: '\\.(internal|corp)$' },
  { name: 'US phone number', pattern: '^\\+1\\d{10}$' },
  { name: 'two-letter code', pattern: '^[A-Z]{2}$' },
  { name: 'organisation id', pattern: '^org_[a-zA-Z0-9]{16}$' },
  { name: 'ZIP code', pattern: '^\\d{5}(-\\d{4})?$' },
  { name: 'Android version', pattern: 'Android [0-9]+' },
  { name: 'staff mailboxes', pattern: '^(?:staff|admin)@' },
  { name: 'API v2 path', pattern: '^[^/]+/v2/' },
  { name: 'test accounts', pattern: '^test\\d*@' },
  { name: 'Unicode property (needs the u flag)', pattern: '^\\p{Lu}' },
  { name: 'either word', pattern: 'Mobile|Tablet' },
  { name: 'private IPv4', pattern: '^10\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}$' },
  { name: 'company URL with optional subdomain', pattern: '^https://([a-z0-9-]+\\.)?acme\\.com/' },
  { name: 'anchored dot-star', pattern: '^Mozilla.*Mobile' },
  { name: 'anchored dot-star before a domain', pattern: '^.*@acme\\.com$' },
];

describe('patternProblem', () => {
  it('has at least 20 catastrophic and 20 useful patterns', () => {
    expect(CATASTROPHIC.length).toBeGreaterThanOrEqual(20);
    expect(USEFUL.length).toBeGreaterThanOrEqual(20);
  });

  it.each(CATASTROPHIC)('refuses $name: $pattern', async ({ pattern, complexity }) => {
    const problem = await patternProblem(pattern);
    expect(problem).toBeDefined();
    expect(problem).toContain(`pattern "${pattern}"`);
    expect(problem).toMatch(complexity!);
  });

  it.each(USEFUL)('accepts $name: $pattern', async ({ pattern }) => {
    expect(await patternProblem(pattern)).toBeUndefined();
  });

  it('says why and how to fix an exponential pattern, with an input that triggers it', async () => {
    expect(await patternProblem('^(a+)+$')).toBe(
      'pattern "^(a+)+$" can take exponential time on inputs like "aaaaa…\\u0000" (nested or overlapping repetition at "a"); rewrite it without nested or overlapping repetition, e.g. "a+" instead of "(a+)+"',
    );
  });

  it('names the degree of a polynomial pattern and the linear alternative', async () => {
    const problem = await patternProblem('foo.*bar');
    expect(problem).toMatch(/polynomial time \(2nd degree polynomial\)/);
    expect(problem).toMatch(/"\[\^@\]\+" instead of "\.\+"/);
  });

  it('refuses a pattern whose analysis does not finish in time, saying it could not be proven safe', async () => {
    // recheck needs seconds for this one; 100 ms is not enough.
    expect(await patternProblem('^(a?){25}a{25}$', 100)).toMatch(/could not be proven safe .*did not finish within 100 ms/);
  });
});

describe('patternProblems', () => {
  it('reports each refused pattern at its path, analysing a repeated pattern once', async () => {
    const problems = await patternProblems([
      { path: 'rules[0].clauses[0].values[0]', pattern: '@acme\\.com$' },
      { path: 'rules[0].clauses[1].values[0]', pattern: '^(a+)+$' },
      { path: 'rules[1].clauses[0].values[0]', pattern: '^(a+)+$' },
    ]);
    expect(problems.map((p) => p.path)).toEqual(['rules[0].clauses[1].values[0]', 'rules[1].clauses[0].values[0]']);
  });

  it('refuses what it has no time left to analyse', async () => {
    const problems = await patternProblems([{ path: 'p', pattern: '^never-analysed-(x|y)$' }], 0);
    expect(problems).toEqual([{ path: 'p', message: expect.stringMatching(/was not analysed: .* smaller changes/) }]);
  });
});

describe('screened', () => {
  it('drops patterns found vulnerable from what the server evaluates and ships, keeping the rest', async () => {
    await patternProblem('(x+x+)+y');
    const flag = {
      key: 'f',
      rules: [
        { id: 'a', clauses: [{ attribute: 'email', operator: 'matches', values: ['(x+x+)+y', '@acme\\.com$'] }], serve: { variation: 'on' } },
        { id: 'b', clauses: [{ attribute: 'plan', operator: 'in', values: ['(x+x+)+y'] }], serve: { variation: 'on' } },
      ],
    } as unknown as FlagConfig;
    const result = screened(flag);
    expect(result.rules[0]!.clauses[0]!.values).toEqual(['@acme\\.com$']);
    expect(result.rules[1]).toBe(flag.rules[1]); // not a pattern: untouched
    expect(screened(result)).toBe(result);
  });
});
