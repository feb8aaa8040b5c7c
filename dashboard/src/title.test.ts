import { describe, expect, it } from 'vitest';
import { decodeSegment, pageTitle, titleForPath } from './title.js';

describe('page titles', () => {
  const cases = [
    { name: 'the flags list', path: '/', expected: 'Flags · Switchyard' },
    { name: 'the flags list by its long path', path: '/flags', expected: 'Flags · Switchyard' },
    { name: 'a new flag', path: '/flags/new', expected: 'New flag · Switchyard' },
    { name: 'a flag, by its key until the page knows its name', path: '/flags/checkout-v2', expected: 'checkout-v2 · Flags · Switchyard' },
    { name: 'a flag key with an escape', path: '/flags/a%20b', expected: 'a b · Flags · Switchyard' },
    { name: 'a malformed escape, as typed (no exception)', path: '/flags/%E0', expected: '%E0 · Flags · Switchyard' },
    { name: 'the audit log', path: '/audit', expected: 'Audit log · Switchyard' },
    { name: 'keys and tokens', path: '/tokens', expected: 'Keys & tokens · Switchyard' },
    { name: 'segments', path: '/segments', expected: 'Segments · Switchyard' },
    { name: 'one segment', path: '/segments/beta', expected: 'Segments · Switchyard' },
    { name: 'compare', path: '/compare', expected: 'Compare · Switchyard' },
    { name: 'change requests', path: '/change-requests', expected: 'Change requests · Switchyard' },
    { name: 'one change request', path: '/change-requests/12', expected: '#12 · Change requests · Switchyard' },
    { name: 'a change request that is no number', path: '/change-requests/x', expected: 'Page not found · Switchyard' },
    { name: 'upcoming scheduled changes', path: '/schedules', expected: 'Upcoming changes · Switchyard' },
    { name: 'anything else', path: '/flags/a/b', expected: 'Page not found · Switchyard' },
  ];
  for (const c of cases) {
    it(c.name, () => expect(titleForPath(c.path)).toBe(c.expected));
  }

  it('joins parts most specific first and drops empty ones', () => {
    expect(pageTitle('Checkout v2', 'Flags')).toBe('Checkout v2 · Flags · Switchyard');
    expect(pageTitle('', 'Flags')).toBe('Flags · Switchyard');
    expect(pageTitle()).toBe('Switchyard');
  });

  it('decodes a path segment, keeping a malformed one as typed', () => {
    expect(decodeSegment('a%2Fb')).toBe('a/b');
    expect(decodeSegment('100%')).toBe('100%');
  });
});
