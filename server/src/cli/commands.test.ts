import { describe, expect, it } from 'vitest';
import { runScripted as run } from '../testing/cli.js';
import { describeChange } from './audit.js';
import type { FlagView } from './command.js';
import { formatFlagList } from './flag-view.js';

const envConfig = (stage: string, on = false) => ({
  on,
  killed: false,
  offVariation: 'off',
  targets: [],
  rules: [],
  defaultServe: { variation: on ? 'on' : 'off' },
  salt: 'a',
  bucketBy: 'userId',
  stage,
});

const flag = (overrides: Partial<FlagView> = {}): FlagView => ({
  key: 'new-checkout',
  name: 'New checkout',
  description: '',
  tags: ['web'],
  owner: '',
  type: 'boolean',
  variations: [
    { key: 'off', value: false },
    { key: 'on', value: true },
  ],
  archived: false,
  clientVisible: false,
  version: 4,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  updatedBy: 'admin',
  environments: { staging: envConfig('off'), production: envConfig('off') },
  ...overrides,
});

describe('runClientCommand', () => {
  const usage = [
    { name: 'no command', argv: [], err: 'missing command' },
    { name: 'unknown command', argv: ['flgs', 'list'], err: 'unknown command "flgs" (did you mean "flags"?)' },
    { name: 'unknown subcommand', argv: ['flags', 'lst'], err: 'did you mean "flags list"?' },
    { name: 'group without subcommand', argv: ['tokens'], err: 'missing command after "tokens": one of create, list, revoke' },
    { name: 'missing argument', argv: ['flags', 'stage', 'a', 'production'], err: 'missing argument STAGE' },
    { name: 'percentage without %', argv: ['flags', 'stage', 'a', 'production', '10'], err: 'Did you mean "10%"?' },
    { name: 'unknown flag', argv: ['audit', '--flagg', 'x'], err: 'unknown flag --flagg (did you mean --flag?)' },
    { name: 'bad --limit', argv: ['audit', '--limit', '0'], err: '--limit must be a whole number from 1 to 200' },
    { name: 'missing --role', argv: ['tokens', 'create', 'ci'], err: 'missing --role' },
    { name: 'bad --type', argv: ['flags', 'create', 'a', '--type', 'bool'], err: '--type must be one of boolean, string, number, json' },
    { name: 'bad --url', argv: ['envs', 'list', '--url', 'localhost:4242'], err: '--url must be an http:// or https:// URL' },
  ];
  for (const c of usage) {
    it(`exits 2 without a request: ${c.name}`, async () => {
      const result = await run(c.argv);
      expect(result.code).toBe(2);
      expect(result.err).toContain(c.err);
      expect(result.calls).toEqual([]);
    });
  }

  it('prints help and the version with exit 0', async () => {
    expect((await run(['--help'])).out).toContain('flags stage');
    expect((await run(['help', 'flags', 'stage'])).out).toContain('Usage: switchyard flags stage KEY ENV STAGE [flags]');
    expect((await run(['flags', 'create', '--help'])).out).toContain('--variations JSON');
    expect((await run(['flags', '--help'])).out).toContain('unarchive');
    const version = await run(['--version']);
    expect(version).toMatchObject({ code: 0, out: expect.stringMatching(/^switchyard \d+\.\d+\.\d+/) });
  });

  it('stage reads the current version and sends it with the change', async () => {
    const after = flag({ version: 5, environments: { staging: envConfig('off'), production: envConfig('100%', true) } });
    const result = await run(['flags', 'stage', 'new-checkout', 'production', '100%', '--message', 'go'], [
      { status: 200, body: flag() },
      { status: 200, body: after },
    ]);
    expect(result.calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      'GET http://sy.test/api/flags/new-checkout',
      'POST http://sy.test/api/flags/new-checkout/environments/production/stage',
    ]);
    expect(result.calls[1]!.body).toEqual({ stage: '100%', message: 'go', version: 4 });
    expect(result).toMatchObject({ code: 0, out: 'new-checkout in production: off → 100%; serving everyone: on (version 5)\n' });
  });

  it("exits 1 with the server's message, and prints its error JSON with --json", async () => {
    const conflict = { error: { code: 'version_conflict', message: 'flag "a" was changed by someone else (current version 6); reload and retry' } };
    const result = await run(['flags', 'archive', 'a', '--json'], [
      { status: 200, body: flag({ key: 'a' }) },
      { status: 409, body: conflict },
    ]);
    expect(result.code).toBe(1);
    expect(result.err).toBe(`switchyard: ${conflict.error.message}\n`);
    expect(JSON.parse(result.out)).toEqual(conflict);
  });

  it('exits 3 when the server cannot be reached', async () => {
    const result = await run(['envs', 'list']);
    expect(result.code).toBe(3);
    expect(result.err).toContain('http://sy.test');
  });
});

describe('formatFlagList', () => {
  it('shows the stage per environment, or one environment', () => {
    const flags = [flag({ environments: { staging: envConfig('dogfood', true), production: envConfig('10%', true) } })];
    expect(formatFlagList(flags)).toBe('KEY           NAME          TAGS  STAGES\nnew-checkout  New checkout  web   staging: dogfood  production: 10%\n');
    expect(formatFlagList(flags, 'production')).toBe('KEY           NAME          TAGS  STAGE (production)\nnew-checkout  New checkout  web   10%\n');
  });
});

describe('describeChange', () => {
  const stored = (on: boolean, killed = false) => {
    const { stage: _stage, ...config } = envConfig('', on);
    return { environments: { production: { ...config, killed } }, name: 'a', tags: [] };
  };
  it('shows a stage move in one environment', () => {
    expect(describeChange({ resourceType: 'flag', environment: 'production', before: stored(false), after: stored(false, true) })).toBe('off → kill');
  });
  it('lists changed metadata fields', () => {
    expect(describeChange({ resourceType: 'flag', environment: null, before: { name: 'a', tags: [] }, after: { name: 'b', tags: ['x'] } })).toBe('changed name, tags');
  });
  it('says nothing it cannot know', () => {
    expect(describeChange({ resourceType: 'api_token', environment: null, before: null, after: {} })).toBe('');
    expect(describeChange({ resourceType: 'flag', environment: 'production', before: { environments: {} }, after: stored(true) })).toBe('');
  });
});
