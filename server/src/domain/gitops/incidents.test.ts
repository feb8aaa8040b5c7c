import { describe, expect, it } from 'vitest';
import { defaultFlagEnvironment } from '../flag-defaults.js';
import type { FlagEnvironment, NewFlag } from '../flags.js';
import { applyStage } from '../stages.js';
import type { DesiredState } from './desired.js';
import { decideIncidents, holdIncidents, type IncidentOverride } from './incidents.js';

const base = defaultFlagEnvironment('checkout', [{ key: 'off', value: false }, { key: 'on', value: true }], 'boolean');
const at = (stage: '10%' | '50%' | 'kill'): FlagEnvironment => applyStage(base, stage, 'on');

function desired(environments: Record<string, FlagEnvironment>): DesiredState {
  const flag: NewFlag = { key: 'checkout', name: 'checkout', description: '', tags: [], owner: '', type: 'boolean', variations: [{ key: 'off', value: false }, { key: 'on', value: true }], archived: false, clientVisible: false, environments };
  return { environments: new Map(), segments: new Map(), flags: new Map([['checkout', flag]]) };
}

const incident: IncidentOverride = { flag: 'checkout', environment: 'production', killedAt: 1, killedBy: 'ann', message: null, sinceCommit: 'abc', fileConfig: at('10%') };

describe('decideIncidents', () => {
  it('holds while the file asks for what it asked for at the kill, whatever else changed', () => {
    expect(decideIncidents(desired({ production: at('10%'), staging: at('50%') }), [incident], true)).toEqual([{ kind: 'hold', incident }]);
    // A running release's marker is not the file's.
    expect(decideIncidents(desired({ production: { ...at('10%'), guarded: true } }), [incident], true)[0]!.kind).toBe('hold');
  });

  it('holds when the file says nothing for that environment (the sync never writes it)', () => {
    expect(decideIncidents(desired({ staging: at('50%') }), [incident], true)[0]!.kind).toBe('hold');
  });

  it('ends when a changed file asks for something else there, or dropped the flag', () => {
    expect(decideIncidents(desired({ production: at('50%') }), [incident], true)).toEqual([{ kind: 'end', incident, reason: 'changed' }]);
    expect(decideIncidents({ ...desired({}), flags: new Map() }, [incident], true)).toEqual([{ kind: 'end', incident, reason: 'removed' }]);
  });

  it('records the file configuration instead while the file is unchanged since its last apply', () => {
    expect(decideIncidents(desired({ production: at('50%') }), [incident], false)).toEqual([{ kind: 'rebase', incident, fileConfig: at('50%') }]);
  });
});

describe('holdIncidents', () => {
  it('replaces only the held flag+environment with the database state', () => {
    const want = desired({ production: at('10%'), staging: at('50%') });
    const held = holdIncidents(want, [{ key: 'checkout', environments: { production: at('kill'), staging: at('10%') } }], [{ kind: 'hold', incident }]);
    expect(held.flags.get('checkout')!.environments).toEqual({ production: at('kill'), staging: at('50%') });
    // Ended overrides hold nothing.
    expect(holdIncidents(want, [], [{ kind: 'end', incident, reason: 'changed' }])).toBe(want);
  });
});
