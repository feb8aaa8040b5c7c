import { describe, expect, it } from 'vitest';
import { compareSemVer, parseSemVer } from './semver.js';

const ascending = ['0.9.9', '1.0.0-0', '1.0.0-2', '1.0.0-10', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.1', '2', '10.0.0'];

describe('semver', () => {
  it('orders versions by SemVer 2.0 precedence (the spec’s own example chain included)', () => {
    for (let i = 0; i < ascending.length; i++) {
      for (let j = 0; j < ascending.length; j++) {
        const order = Math.sign(compareSemVer(parseSemVer(ascending[i]!)!, parseSemVer(ascending[j]!)!));
        expect(order, `${ascending[i]} vs ${ascending[j]}`).toBe(Math.sign(i - j));
      }
    }
  });

  it('treats missing parts as 0, ignores build metadata and a leading v', () => {
    const cases = [
      { name: 'short form', a: '2', b: '2.0.0' },
      { name: 'build metadata', a: '1.2.3+build.7', b: '1.2.3' },
      { name: 'v prefix and spaces', a: ' v1.2.3 ', b: '1.2.3' },
    ];
    for (const { name, a, b } of cases) expect(compareSemVer(parseSemVer(a)!, parseSemVer(b)!), name).toBe(0);
  });

  it('rejects what is not a version', () => {
    for (const text of ['', 'x', '1.', '01.2.3', '1.2.3.4', '1.2.3-', '1.2.3-a..b', '1.2.3+', 'v', '1'.repeat(300)]) {
      expect(parseSemVer(text), JSON.stringify(text)).toBeUndefined();
    }
  });
});
