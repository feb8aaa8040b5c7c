import { describe, expect, it } from 'vitest';
import { changeText } from './audit.js';

/** The CHANGE column of `switchyard audit`: the short stage move where ENV says where, else the server's sentence. */
describe('changeText', () => {
  const config = (on: boolean, killed = false) => ({ on, killed, offVariation: 'off', targets: [], rules: [], defaultServe: { variation: 'off' }, salt: 'f', bucketBy: 'userId' });
  const flag = (on: boolean, killed = false) => ({ environments: { production: config(on, killed) } });

  it.each([
    { name: 'a stage move keeps its short form', entry: { resourceType: 'flag' as const, environment: 'production', before: flag(false), after: flag(false, true), summary: 'killed in Production' }, expected: 'off → kill' },
    { name: 'metadata reads as the sentence', entry: { resourceType: 'flag' as const, environment: null, before: { name: 'a' }, after: { name: 'b' }, summary: 'renamed "a" → "b"' }, expected: 'renamed "a" → "b"' },
    { name: 'a segment reads as the sentence', entry: { resourceType: 'segment' as const, environment: null, before: {}, after: {}, summary: 'added 3 members to internal' }, expected: 'added 3 members to internal' },
    { name: 'a server without sentences: the short form', entry: { resourceType: 'flag' as const, environment: null, before: { name: 'a' }, after: { name: 'b' } }, expected: 'changed name' },
  ])('$name', ({ entry, expected }) => {
    expect(changeText(entry)).toBe(expected);
  });
});
