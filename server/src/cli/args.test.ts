import { describe, expect, it } from 'vitest';
import { closest, expectArguments, parseCommandArgs, positiveInteger, splitCommandWords, stringsOption } from './args.js';
import { UsageError } from './errors.js';

const twoWords = (first: string) => (first === 'flags' ? 2 : 1);

describe('splitCommandWords', () => {
  const cases = [
    { name: 'command words first', argv: ['flags', 'list', '--env', 'production'], words: ['flags', 'list'], rest: ['--env', 'production'] },
    { name: 'global options before the command', argv: ['--url', 'http://x', '--json', 'flags', 'get', 'a'], words: ['flags', 'get'], rest: ['--url', 'http://x', '--json', 'a'] },
    { name: '--url=value form', argv: ['--url=http://x', 'audit', '--limit', '3'], words: ['audit'], rest: ['--url=http://x', '--limit', '3'] },
    { name: 'one-word command keeps its positionals', argv: ['audit', 'extra'], words: ['audit'], rest: ['extra'] },
    { name: 'nothing', argv: [], words: [], rest: [] },
    { name: 'only --version', argv: ['--version'], words: [], rest: ['--version'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(splitCommandWords(c.argv, twoWords)).toEqual({ words: c.words, rest: c.rest });
    });
  }
});

describe('parseCommandArgs', () => {
  const options = { env: { type: 'string', description: '' }, tag: { type: 'string', multiple: true, description: '' } } as const;

  it('parses command and global options in any order', () => {
    const parsed = parseCommandArgs(['a', '--tag', 'x', '--json', '--tag', 'y', '--env', 'prod', '--token', 't'], options, 'flags list');
    expect(parsed.positionals).toEqual(['a']);
    expect(stringsOption(parsed.values, 'tag')).toEqual(['x', 'y']);
    expect(parsed.values).toMatchObject({ env: 'prod', json: true, token: 't' });
  });

  const errors = [
    { name: 'unknown flag with a suggestion', argv: ['--evn', 'x'], message: 'unknown flag --evn (did you mean --env?)' },
    { name: 'unknown flag far from any', argv: ['--zzzzzz'], message: 'unknown flag --zzzzzz' },
    { name: 'missing value', argv: ['--env'], message: 'flag --env needs a value' },
    { name: 'value on a boolean flag', argv: ['--json=yes'], message: 'flag --json does not take a value' },
  ];
  for (const c of errors) {
    it(`rejects: ${c.name}`, () => {
      const error = catchUsage(() => parseCommandArgs(c.argv, options, 'flags list'));
      expect(error.message).toBe(c.message);
      expect(error.hint).toBe('Run "switchyard flags list --help" for usage.');
    });
  }
});

describe('expectArguments', () => {
  const spec = [
    { name: 'KEY', description: '' },
    { name: 'ENV', description: '' },
  ];
  it('returns the positionals when they match', () => {
    expect(expectArguments({ positionals: ['a', 'b'], values: {} }, spec, 'flags kill')).toEqual(['a', 'b']);
  });
  it('names the missing ones, with the usage as a hint', () => {
    const error = catchUsage(() => expectArguments({ positionals: [], values: {} }, spec, 'flags kill'));
    expect(error.message).toBe('missing arguments KEY ENV');
    expect(error.hint).toContain('Usage: switchyard flags kill KEY ENV.');
  });
  it('names unexpected extras', () => {
    expect(catchUsage(() => expectArguments({ positionals: ['a', 'b', 'c'], values: {} }, spec, 'flags kill')).message).toBe('unexpected argument "c"');
  });
});

describe('positiveInteger', () => {
  it('accepts 1..max', () => {
    expect(positiveInteger('200', '--limit', 200)).toBe(200);
  });
  for (const text of ['0', '-1', '1.5', 'abc', '', '201']) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      expect(catchUsage(() => positiveInteger(text, '--limit', 200)).message).toContain('--limit must be a whole number from 1 to 200');
    });
  }
});

describe('closest', () => {
  it('suggests a near miss and nothing for a far one', () => {
    expect(closest('flgs', ['flags', 'envs', 'audit'])).toBe('flags');
    expect(closest('lst', ['list', 'get'])).toBe('list');
    expect(closest('deploy', ['flags', 'envs', 'audit'])).toBeUndefined();
  });
});

function catchUsage(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error('expected a UsageError');
}
