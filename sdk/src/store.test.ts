import { describe, expect, it } from 'vitest';
import { evaluateCompiled } from './evaluate.js';
import { RuleStore } from './store.js';
import { booleanFlag, ruleSet, segment } from './testing/fakes.js';
import type { FlagConfig } from './types.js';

const inSegment = (key: string, seg: string): FlagConfig =>
  booleanFlag(key, true, 1, {
    defaultServe: { variation: 'off' },
    rules: [{ id: 'r', clauses: [{ attribute: '', operator: 'in_segment', values: [seg] }], serve: { variation: 'on' } }],
  });

describe('RuleStore', () => {
  it('applies snapshots in version order only', () => {
    const store = new RuleStore();
    expect(store.applySnapshot(ruleSet(2, [booleanFlag('a', true)]), 'server')).toEqual(['a']);
    expect(store.applySnapshot(ruleSet(2, [booleanFlag('a', false, 2)]), 'server')).toBeUndefined();
    expect(store.applySnapshot(ruleSet(1, [booleanFlag('a', false, 2)]), 'server')).toBeUndefined();
    expect(store.applySnapshot(ruleSet(3, [booleanFlag('a', true)]), 'server')).toEqual([]);
    expect(store.version).toBe(3);
  });

  it('lets server data replace provisional data of any version, never the reverse', () => {
    const store = new RuleStore();
    store.applySnapshot(ruleSet(50, [booleanFlag('a', false)]), 'bootstrap');
    expect(store.applySnapshot(ruleSet(40, [booleanFlag('a', false)]), 'cache')).toBeUndefined();
    expect(store.applySnapshot(ruleSet(7, [booleanFlag('a', true, 2)]), 'server')).toEqual(['a']);
    expect(store.applySnapshot(ruleSet(99, [booleanFlag('a', false)]), 'cache')).toBeUndefined();
    expect(store.source).toBe('server');
  });

  it("applies a stream's opening snapshot whatever its version: the server restored an older database", () => {
    const store = new RuleStore();
    store.applySnapshot(ruleSet(8, [booleanFlag('a', false)]), 'server');
    expect(store.applySnapshot(ruleSet(5, [booleanFlag('a', true, 2)]), 'server')).toBeUndefined();
    expect(store.applySnapshot(ruleSet(5, [booleanFlag('a', true, 2)]), 'server', true)).toEqual(['a']);
    expect(store.version).toBe(5);
    // From there, ordinary version order again: the restored server's next change is accepted.
    expect(store.applyPatch({ version: 6, flags: { a: booleanFlag('a', false, 3) } })).toEqual(['a']);
  });

  it('refuses a patch before any snapshot', () => {
    expect(() => new RuleStore().applyPatch({ version: 1, flags: {} })).toThrow(/before any snapshot/);
  });

  it('leaves everything untouched when an update does not compile', () => {
    const store = new RuleStore();
    store.applySnapshot(ruleSet(1, [booleanFlag('a', true)]), 'server');
    const broken = { key: 'b' } as unknown as FlagConfig;
    expect(() => store.applyPatch({ version: 2, flags: { a: booleanFlag('a', false, 2), b: broken } })).toThrow();
    expect(() => store.applySnapshot({ ...ruleSet(3, []), flags: { b: broken } }, 'server')).toThrow();
    expect(store.version).toBe(1);
    expect(evaluateCompiled(store.flags.get('a'), {}).value).toBe(true);
  });

  it('recompiles flags that use a changed segment and reports them, but not identical re-sends', () => {
    const store = new RuleStore();
    store.applySnapshot(ruleSet(1, [inSegment('uses_beta', 'beta'), booleanFlag('plain', true)], [segment('beta', [])]), 'server');
    const before = store.flags.get('plain');
    expect(evaluateCompiled(store.flags.get('uses_beta'), { userId: 'ann' }).value).toBe(false);
    expect(store.applyPatch({ version: 2, segments: { beta: segment('beta', ['ann'], 2) } })).toEqual(['uses_beta']);
    expect(evaluateCompiled(store.flags.get('uses_beta'), { userId: 'ann' }).value).toBe(true);
    expect(store.flags.get('plain')).toBe(before); // untouched flags keep their compiled form
    expect(store.applyPatch({ version: 3, flags: { plain: booleanFlag('plain', true), ghost: null } })).toEqual([]);
    expect(store.applyPatch({ version: 4, segments: { beta: null } })).toEqual(['uses_beta']);
    expect(evaluateCompiled(store.flags.get('uses_beta'), { userId: 'ann' }).value).toBe(false);
    expect(store.ruleSet?.segments).toEqual({});
  });

  it('a change to a prerequisite reaches the flags that require it (transitively), which keep their compiled form', () => {
    const store = new RuleStore();
    const requiring = (key: string, dep: string) => booleanFlag(key, true, 1, { prerequisites: [{ flag: dep, variation: 'on' }] });
    store.applySnapshot(ruleSet(1, [booleanFlag('base', true), requiring('middle', 'base'), requiring('top', 'middle'), booleanFlag('other', true)]), 'server');
    const top = store.flags.get('top');
    expect(evaluateCompiled(top, { userId: 'u' }).value).toBe(true);
    const changed = store.applyPatch({ version: 2, flags: { base: booleanFlag('base', false, 2) } });
    expect([...changed!].sort()).toEqual(['base', 'middle', 'top']);
    expect(store.flags.get('top')).toBe(top);
    expect(evaluateCompiled(store.flags.get('top'), { userId: 'u' })).toMatchObject({ value: false, reason: 'PREREQUISITE_FAILED', prerequisiteKey: 'middle' });
    // Deleting the prerequisite reaches them too.
    expect([...store.applyPatch({ version: 3, flags: { base: null } })!].sort()).toEqual(['base', 'middle', 'top']);
  });
});
