import { describe, expect, it } from 'vitest';
import { formatFields, formatStages, formatTable, formatTime, truncate } from './output.js';

describe('formatTable', () => {
  it('aligns columns to the widest cell, two spaces apart, without trailing spaces', () => {
    const table = formatTable(['KEY', 'STAGE'], [
      ['new-checkout', '10%'],
      ['a', 'dogfood'],
    ]);
    expect(table).toBe(['KEY           STAGE', 'new-checkout  10%', 'a             dogfood', ''].join('\n'));
  });

  it('cuts long cells at maxWidth and flattens newlines', () => {
    const table = formatTable([{ header: 'NAME', maxWidth: 6 }, 'X'], [['a very long name', '1'], ['two\nlines', '2']]);
    expect(table.split('\n')).toEqual(['NAME    X', 'a ver…  1', 'two l…  2', '']);
  });

  it('prints only the header for no rows', () => {
    expect(formatTable(['A', 'B'], [])).toBe('A  B\n');
  });
});

describe('formatFields', () => {
  it('aligns values after the labels', () => {
    expect(formatFields([['Key', 'a'], ['Description', 'b']])).toBe('Key:         a\nDescription: b\n');
  });
});

describe('small formatters', () => {
  it('shows stages per environment in order', () => {
    expect(formatStages([['staging', 'dogfood'], ['production', '10%']])).toBe('staging: dogfood  production: 10%');
  });
  it('shows times to the second in UTC', () => {
    expect(formatTime('2026-11-27T17:25:31.533Z')).toBe('2026-11-27 17:25:31Z');
    expect(formatTime(null)).toBe('-');
  });
  it('truncates with an ellipsis', () => {
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
  });
});
