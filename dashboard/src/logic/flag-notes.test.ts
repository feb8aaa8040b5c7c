import { describe, expect, it } from 'vitest';
import type { Environment, Flag, FlagEnvironment } from '../api/types.js';
import { describeRemoteChange, joinNames, targetingSavedText } from './flag-notes.js';

const env = (key: string, name: string, sortOrder: number): Environment => ({ key, name, critical: key === 'production', clientSecureMode: false, sortOrder, version: 1 });
const ENVS = [env('staging', 'Staging', 1), env('production', 'Production', 2)];

function config(stage: string, extra: Partial<FlagEnvironment> = {}): FlagEnvironment {
  return { on: stage !== 'off' && stage !== 'kill', killed: stage === 'kill', offVariation: 'off', targets: [], rules: [], defaultServe: { variation: 'off' }, salt: 's', bucketBy: 'userId', stage, ...extra };
}
function flag(stages: Record<string, FlagEnvironment>, version = 1): Flag {
  return { key: 'k', name: 'K', description: '', tags: [], owner: '', type: 'boolean', variations: [], archived: false, clientVisible: false, version, createdAt: '', updatedAt: '', updatedBy: '', environments: stages };
}

describe('remote change toasts', () => {
  const before = flag({ staging: config('dogfood'), production: config('10%') });
  const cases = [
    { name: 'a stage move names the stage and environment', after: flag({ staging: config('dogfood'), production: config('50%') }, 2), expected: 'ci-bot moved this to 50% in Production.' },
    { name: 'a kill says killed', after: flag({ staging: config('kill'), production: config('10%') }, 2), expected: 'ci-bot killed this in Staging.' },
    { name: 'off says turned off', after: flag({ staging: config('off'), production: config('10%') }, 2), expected: 'ci-bot turned this off in Staging.' },
    { name: 'no stage change: it changed', after: flag({ staging: config('dogfood'), production: config('10%') }, 2), expected: 'ci-bot changed this flag.' },
    {
      name: 'custom says what it is',
      after: flag({ staging: config('custom', { stageSummary: 'dogfood + 1 rule' }), production: config('10%') }, 2),
      expected: 'ci-bot moved this to Custom: dogfood + 1 rule in Staging.',
    },
    {
      name: 'two environments: the current one first',
      after: flag({ staging: config('10%'), production: config('50%') }, 2),
      expected: 'ci-bot moved this to 50% in Production; moved this to 10% in Staging.',
    },
  ];
  for (const c of cases) it(c.name, () => expect(describeRemoteChange(['ci-bot'], before, c.after, ENVS, 'production')).toBe(c.expected));
  it('without a before copy it only says who changed it', () => expect(describeRemoteChange(['ci-bot'], undefined, before, ENVS)).toBe('ci-bot changed this flag.'));
  it('joins several names', () => {
    expect(joinNames(['a', 'b'])).toBe('a and b');
    expect(joinNames(['a', 'b', 'c'])).toBe('a, b and c');
  });
});

describe('targeting saved', () => {
  it('says nothing more when the flag is on', () => expect(targetingSavedText('Staging', config('10%'))).toBe('Targeting saved in Staging.'));
  it('says the rules serve nobody while off', () => expect(targetingSavedText('Staging', config('off'))).toBe('Targeting saved in Staging. The flag is off in Staging, so these rules serve nobody until it is turned on.'));
  it('says the rules serve nobody while killed', () => expect(targetingSavedText('Production', config('kill'))).toMatch(/killed in Production, so these rules serve nobody until it is released again/));
});
