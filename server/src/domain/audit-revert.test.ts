import { describe, expect, it } from 'vitest';
import type { AuditEntry } from './audit.js';
import { applyRevert, describeEdit, describeValue, entryEffect, laterConflicts, restoredPatterns, sameJson, unexplainedDrift, type FieldEdit } from './audit-revert.js';
import { defaultFlagEnvironment, BOOLEAN_VARIATIONS } from './flag-defaults.js';
import type { Flag } from './flags.js';

const config = defaultFlagEnvironment('f', BOOLEAN_VARIATIONS, 'boolean');
const flag = (patch: Partial<Flag> = {}, environments: Flag['environments'] = { production: config, staging: config }): Flag => ({
  key: 'f',
  name: 'f',
  description: '',
  tags: [],
  owner: '',
  type: 'boolean',
  variations: BOOLEAN_VARIATIONS,
  archived: false,
  clientVisible: false,
  version: 1,
  createdAt: 0,
  updatedAt: 0,
  updatedBy: 'x',
  environments,
  ...patch,
});
let nextId = 1;
const entry = (before: unknown, after: unknown, extra: Partial<AuditEntry> = {}): AuditEntry => ({
  id: nextId++,
  at: 0,
  actor: 'ana',
  action: 'flag.updated',
  resourceType: 'flag',
  resourceKey: 'f',
  environment: null,
  before,
  after,
  source: 'api',
  message: null,
  commit: null,
  ...extra,
});

describe('sameJson', () => {
  it('ignores key order and undefined keys (jsonb reorders, JSON drops undefined)', () => {
    expect(sameJson({ a: 1, b: [1, { c: 2, d: 3 }] }, { b: [1, { d: 3, c: 2 }], a: 1 })).toBe(true);
    expect(sameJson({ a: 1, guarded: undefined }, { a: 1 })).toBe(true);
    expect(sameJson([1, 2], [2, 1])).toBe(false);
    expect(sameJson({ a: null }, {})).toBe(false);
  });
});

describe('entryEffect', () => {
  it('lists the fields an entry changed, per environment', () => {
    const before = flag();
    const after = flag({ name: 'renamed', version: 2, updatedAt: 5 }, { production: { ...config, on: true, defaultServe: { variation: 'on' } }, staging: config });
    const effect = entryEffect(entry(before, after));
    expect(effect.kind === 'changed' && effect.edits.map((e) => `${e.environment}.${e.field}`)).toEqual(['null.name', 'production.on', 'production.defaultServe']);
  });

  it('ignores environments present on one side only (created or deleted with the environment)', () => {
    const effect = entryEffect(entry(flag(), flag({}, { production: config, staging: config, qa: config })));
    expect(effect).toEqual({ kind: 'changed', resourceType: 'flag', edits: [] });
  });

  it('creations and deletions', () => {
    expect(entryEffect(entry(null, flag())).kind).toBe('created');
    expect(entryEffect(entry(flag(), null)).kind).toBe('deleted');
  });

  it('refuses what is not a flag or segment change', () => {
    expect(() => entryEffect(entry(null, {}, { resourceType: 'api_token', action: 'api_token.created' }))).toThrow(/about an api token \(api_token\.created\); only flag changes can be reverted/);
    expect(() => entryEffect(entry(null, { strategy: 'guarded' }, { action: 'release.plan_saved' }))).toThrow(/records no change to the flag itself/);
  });
});

describe('laterConflicts and drift', () => {
  const before = flag();
  const after = flag({}, { production: { ...config, on: true }, staging: config });
  const effect = entryEffect(entry(before, after, { id: 10 }));

  it('names later entries that touched the same fields only', () => {
    const otherEnv = entry(after, flag({}, { production: { ...config, on: true }, staging: { ...config, on: true } }), { id: 11 });
    const sameField = entry(after, flag({}, { production: { ...config, on: false, killed: true }, staging: config }), { id: 12, actor: 'ben', action: 'flag.killed' });
    const plan = entry(null, { strategy: 'guarded' }, { id: 13, action: 'release.plan_saved' });
    const envGone = entry({ key: 'production' }, null, { id: 14, resourceType: 'environment', resourceKey: 'production', action: 'environment.deleted' });
    const envRenamed = entry({ key: 'production', name: 'a' }, { key: 'production', name: 'b' }, { id: 15, resourceType: 'environment', resourceKey: 'production', action: 'environment.updated' });
    const conflicts = laterConflicts(effect, [envRenamed, envGone, plan, sameField, otherEnv]);
    expect(conflicts.map((c) => [c.entry?.id, c.fields])).toEqual([
      [12, [{ environment: 'production', field: 'on' }]],
      [14, [{ environment: 'production', field: 'on' }]],
    ]);
  });

  it('a field that moved without a later entry is drift', () => {
    const edits = (effect as { edits: FieldEdit[] }).edits;
    expect(unexplainedDrift(edits, after as never, [])).toBeNull();
    expect(unexplainedDrift(edits, flag() as never, [])).toEqual({ entry: null, fields: [{ environment: 'production', field: 'on' }] });
  });
});

describe('applyRevert', () => {
  it('sets back the edited fields only; untouched configurations stay the same objects', () => {
    const current = flag({ name: 'now' }, { production: { ...config, on: true, salt: 'later' }, staging: { ...config, on: true } });
    const edits: FieldEdit[] = [
      { environment: 'production', field: 'on', before: false, after: true },
      { environment: 'production', field: 'guarded', before: undefined, after: true },
    ];
    const reverted = applyRevert(current, edits);
    expect(reverted.environments.production).toEqual({ ...config, on: false, salt: 'later' });
    expect('guarded' in reverted.environments.production!).toBe(false);
    expect(reverted.environments.staging).toBe(current.environments.staging);
    expect(reverted.name).toBe('now');
    expect(current.environments.production!.on).toBe(true);
  });
});

describe('readable values', () => {
  it('rollouts, rules, targets and lists', () => {
    expect(describeValue('defaultServe', { rollout: { variations: [{ variation: 'on', weight: 10_000 }, { variation: 'off', weight: 90_000 }] } })).toBe('on 10% / off 90%');
    expect(describeValue('rules', [{ id: 'dogfood' }, { id: 'beta' }])).toBe('2 rules (dogfood, beta)');
    expect(describeValue('targets', [{ variation: 'on', values: ['a'] }])).toBe('on: 1 id');
    expect(describeValue('on', false)).toBe('false');
    expect(describeValue('guarded', undefined)).toBe('(none)');
    expect(describeEdit({ environment: 'production', field: 'rules' }, [{ id: 'r', clauses: [] }], [{ id: 'r', clauses: [{}] }])).toMatch(/^production: rules \[\{"id":"r","clauses":\[\]\}\] → /);
  });
});

describe('restoredPatterns', () => {
  it('names the paths of the patterns a revert would bring back', () => {
    const rules = [{ id: 'r', clauses: [{ attribute: 'email', operator: 'matches', values: ['^a$'] }], serve: { variation: 'on' } }];
    const effect = entryEffect(entry(flag({}, { production: { ...config, rules: rules as never }, staging: config }), flag()));
    expect(restoredPatterns(effect)).toEqual([{ path: 'environments.production.rules[0].clauses[0].values[0]', pattern: '^a$' }]);
  });
});
