import { describe, expect, it } from 'vitest';
import type { FlagView } from './command.js';
import { formatFlag, formatFlagList, stageText } from './flag-view.js';

/** The CLI says what the server says: a custom configuration with what it is, a kill with where it was. */
type EnvironmentView = FlagView['environments'][string];

const config = (stage: string, extra: Partial<EnvironmentView> = {}): EnvironmentView => ({
  on: stage !== 'off' && stage !== 'kill',
  killed: stage === 'kill',
  offVariation: 'off',
  targets: [],
  rules: [],
  defaultServe: { variation: 'off' },
  salt: 'pro-checkout',
  bucketBy: 'userId',
  stage,
  ...extra,
});

const flag = (environments: Record<string, EnvironmentView>): FlagView => ({
  key: 'pro-checkout',
  name: 'Pro checkout',
  description: '',
  tags: [],
  owner: '',
  type: 'boolean',
  variations: [
    { key: 'off', value: false },
    { key: 'on', value: true },
  ],
  archived: false,
  clientVisible: false,
  version: 3,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  updatedBy: 'admin',
  environments,
});

describe('stageText', () => {
  const cases = [
    { name: 'an exact stage', config: config('dogfood', { stageSummary: 'dogfood', killedFrom: null }), expected: 'dogfood' },
    { name: 'custom, with what it is', config: config('custom', { stageSummary: 'dogfood + 1 rule', killedFrom: null }), expected: 'custom (dogfood + 1 rule)' },
    { name: 'a kill, briefly', config: config('kill', { stageSummary: 'killed (was 100%)', killedFrom: '100%' }), expected: 'kill' },
    { name: 'a server from before stageSummary', config: config('custom'), expected: 'custom' },
  ];
  it.each(cases)('$name', ({ config, expected }) => {
    expect(stageText(config)).toBe(expected);
  });

  it('`flags list` and `flags get` show it; `get` says where a kill came from', () => {
    const view = flag({
      staging: config('custom', { stageSummary: 'dogfood + 1 rule', killedFrom: null }),
      production: config('kill', { stageSummary: 'killed (was 100%)', killedFrom: '100%' }),
    });
    expect(formatFlagList([view])).toMatch(/staging: custom \(dogfood \+ 1 rule\) {2}production: kill$/m);
    expect(formatFlag(view)).toMatch(/^production\s+kill \(was 100%\)\s/m);
    expect(formatFlag(view)).toMatch(/^staging\s+custom \(dogfood \+ 1 rule\)\s/m);
  });
});
