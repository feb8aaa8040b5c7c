import { describe, expect, it } from 'vitest';
import type { FlagEnvironmentSummary, FlagSummary } from '../api/types.js';
import { applyFilters, facets, listQueryToParams, parseListQuery, removeEntry, sortEntries, toEntry, upsertEntry, type ListEntry, type ListQuery } from './flag-list.js';

const ENVS = ['development', 'staging', 'production'];

function env(stage: string, extra: Partial<FlagEnvironmentSummary> = {}): FlagEnvironmentSummary {
  return { stage, stageSummary: stage, on: stage !== 'off' && stage !== 'kill', killed: stage === 'kill', ruleCount: 0, guarded: false, releasePlan: null, lastEvaluatedAt: null, ...extra };
}

function summary(key: string, fields: Partial<FlagSummary> & { stages?: Record<string, string> } = {}): FlagSummary {
  const { stages = {}, ...rest } = fields;
  return {
    key,
    name: key,
    tags: [],
    owner: '',
    type: 'boolean',
    archived: false,
    clientVisible: false,
    managedBy: null,
    version: 1,
    updatedAt: '2026-01-01T00:00:00.000Z',
    updatedBy: 'admin',
    environments: Object.fromEntries(ENVS.map((e) => [e, env(stages[e] ?? 'off')])),
    lifecycle: 'active',
    ...rest,
  };
}

const QUERY: ListQuery = { q: '', tag: '', owner: '', lifecycle: '', stage: '', sort: 'name', env: 'production' };
const keys = (entries: readonly ListEntry[]) => entries.map((e) => e.summary.key);

const FLAGS = [
  summary('checkout-v2', { name: 'New checkout', tags: ['payments'], owner: 'team-a', updatedAt: '2026-03-01T00:00:00.000Z', stages: { production: '10%', staging: '100%' } }),
  summary('search-ranking', { name: 'Search ranking', tags: ['search'], owner: 'team-b', updatedAt: '2026-05-01T00:00:00.000Z', stages: { production: 'dogfood' } }),
  summary('dark-mode', { name: 'dark mode', tags: ['ui', 'payments'], owner: 'team-a', updatedAt: '2026-04-01T00:00:00.000Z', stages: { production: '100%' }, lifecycle: 'ready-to-remove' }),
  summary('old-banner', { name: 'Old banner', owner: 'team-b', updatedAt: 'not a date', stages: { production: 'kill' }, lifecycle: 'stale' }),
  summary('pro-plan', { name: 'Pro plan', tags: ['payments'], stages: { production: 'custom' } }),
  summary('export-csv', { name: 'Export CSV', updatedAt: '2026-02-01T00:00:00.000Z' }),
].map(toEntry);

describe('flag list: filters and counts', () => {
  const cases: { name: string; query: Partial<ListQuery>; visible: string[]; counts: Record<string, number> }[] = [
    { name: 'nothing filtered', query: {}, visible: ['checkout-v2', 'dark-mode', 'export-csv', 'old-banner', 'pro-plan', 'search-ranking'], counts: { off: 1, dogfood: 1, rollout: 1, full: 1, kill: 1, custom: 1 } },
    { name: 'search matches the name, case-insensitively', query: { q: '  CHECKOUT ' }, visible: ['checkout-v2'], counts: { off: 0, dogfood: 0, rollout: 1, full: 0, kill: 0, custom: 0 } },
    { name: 'search matches a tag or an owner', query: { q: 'team-b' }, visible: ['old-banner', 'search-ranking'], counts: { off: 0, dogfood: 1, rollout: 0, full: 0, kill: 1, custom: 0 } },
    { name: 'search matches the key', query: { q: 'csv' }, visible: ['export-csv'], counts: { off: 1, dogfood: 0, rollout: 0, full: 0, kill: 0, custom: 0 } },
    { name: 'tag', query: { tag: 'payments' }, visible: ['checkout-v2', 'dark-mode', 'pro-plan'], counts: { off: 0, dogfood: 0, rollout: 1, full: 1, kill: 0, custom: 1 } },
    { name: 'owner', query: { owner: 'team-a' }, visible: ['checkout-v2', 'dark-mode'], counts: { off: 0, dogfood: 0, rollout: 1, full: 1, kill: 0, custom: 0 } },
    // The counts leave the stage filter out: each chip says what choosing it would show.
    { name: 'stage in the selected environment', query: { stage: 'rollout' }, visible: ['checkout-v2'], counts: { off: 1, dogfood: 1, rollout: 1, full: 1, kill: 1, custom: 1 } },
    { name: 'the same stage in another environment', query: { stage: 'full', env: 'staging' }, visible: ['checkout-v2'], counts: { off: 5, dogfood: 0, rollout: 0, full: 1, kill: 0, custom: 0 } },
    { name: 'filters combine', query: { tag: 'payments', owner: 'team-a', stage: 'full' }, visible: ['dark-mode'], counts: { off: 0, dogfood: 0, rollout: 1, full: 1, kill: 0, custom: 0 } },
    { name: 'lifecycle', query: { lifecycle: 'stale' }, visible: ['old-banner'], counts: { off: 0, dogfood: 0, rollout: 0, full: 0, kill: 1, custom: 0 } },
    { name: 'lifecycle with another filter', query: { lifecycle: 'ready-to-remove', owner: 'team-a' }, visible: ['dark-mode'], counts: { off: 0, dogfood: 0, rollout: 0, full: 1, kill: 0, custom: 0 } },
    { name: 'no match', query: { q: 'nothing like this' }, visible: [], counts: { off: 0, dogfood: 0, rollout: 0, full: 0, kill: 0, custom: 0 } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const query = { ...QUERY, ...c.query };
      const { visible, counts } = applyFilters(sortEntries(FLAGS, 'key', query.env), query);
      expect(keys(visible)).toEqual(c.visible);
      expect(counts).toEqual(c.counts);
    });
  }

  it('counts a flag missing in the environment as off', () => {
    const partial = toEntry({ ...summary('new-env'), environments: { production: env('100%') } });
    expect(applyFilters([partial], { ...QUERY, env: 'staging' }).counts.off).toBe(1);
  });

  it('gives the tags and owners present, sorted and without blanks', () => {
    expect(facets(FLAGS)).toEqual({ tags: ['payments', 'search', 'ui'], owners: ['team-a', 'team-b'] });
  });
});

describe('flag list: sorting', () => {
  const cases: { name: string; sort: ListQuery['sort']; env?: string; expected: string[] }[] = [
    { name: 'by name, case-insensitively', sort: 'name', expected: ['dark-mode', 'export-csv', 'checkout-v2', 'old-banner', 'pro-plan', 'search-ranking'] },
    { name: 'by key', sort: 'key', expected: ['checkout-v2', 'dark-mode', 'export-csv', 'old-banner', 'pro-plan', 'search-ranking'] },
    { name: 'by last change, newest first, an unreadable time last', sort: 'updated', expected: ['search-ranking', 'dark-mode', 'checkout-v2', 'export-csv', 'pro-plan', 'old-banner'] },
    { name: 'by stage along the ramp, custom then killed last', sort: 'stage', expected: ['export-csv', 'search-ranking', 'checkout-v2', 'dark-mode', 'pro-plan', 'old-banner'] },
    { name: 'by stage in the selected environment, ties by name', sort: 'stage', env: 'staging', expected: ['dark-mode', 'export-csv', 'old-banner', 'pro-plan', 'search-ranking', 'checkout-v2'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(keys(sortEntries(FLAGS, c.sort, c.env ?? 'production'))).toEqual(c.expected);
    });
  }

  it('leaves its input alone', () => {
    const before = keys(FLAGS);
    sortEntries(FLAGS, 'updated', 'production');
    expect(keys(FLAGS)).toEqual(before);
  });
});

describe('flag list: the query string', () => {
  it('reads every filter from a shared link', () => {
    const { query, problems } = parseListQuery(new URLSearchParams('q=checkout&tag=payments&owner=team-a&lifecycle=stale&stage=rollout&sort=updated&env=staging'), ENVS, 'production');
    expect(query).toEqual({ q: 'checkout', tag: 'payments', owner: 'team-a', lifecycle: 'stale', stage: 'rollout', sort: 'updated', env: 'staging' });
    expect(problems).toEqual([]);
  });

  it('falls back to the defaults and says what it left out', () => {
    const { query, problems } = parseListQuery(new URLSearchParams('stage=10%25&sort=size&env=moon&lifecycle=dead'), ENVS, 'production');
    expect(query).toEqual(QUERY);
    expect(problems).toEqual(['unknown lifecycle "dead" (use new, active, launched, stale, ready-to-remove)', 'unknown stage "10%" (use off, dogfood, rollout, full, kill, custom)', 'unknown sort "size" (use name, key, updated, stage)', 'unknown environment "moon"']);
    expect(parseListQuery(new URLSearchParams(''), ENVS, 'staging')).toEqual({ query: { ...QUERY, env: 'staging' }, problems: [] });
  });

  it('round-trips, leaving defaults out but always naming the environment', () => {
    const query: ListQuery = { q: 'new checkout', tag: 'payments', owner: 'team-a', lifecycle: 'ready-to-remove', stage: 'kill', sort: 'stage', env: 'staging' };
    const params = listQueryToParams(query);
    expect(params.toString()).toBe('q=new+checkout&tag=payments&owner=team-a&lifecycle=ready-to-remove&stage=kill&sort=stage&env=staging');
    expect(parseListQuery(params, ENVS, 'production').query).toEqual(query);
    expect(listQueryToParams(QUERY).toString()).toBe('env=production');
  });
});

describe('flag list: live changes', () => {
  it('replaces one entry, recomputing what it is searched and sorted by', () => {
    const changed = upsertEntry(FLAGS, summary('dark-mode', { name: 'Night theme', version: 2, stages: { production: 'kill' } }));
    expect(changed).toHaveLength(FLAGS.length);
    const entry = changed.find((e) => e.summary.key === 'dark-mode')!;
    expect(entry.summary.version).toBe(2);
    expect(entry.kinds.production).toBe('kill');
    expect(keys(applyFilters(changed, { ...QUERY, q: 'night' }).visible)).toEqual(['dark-mode']);
    // The others are the same objects: their rows are not redrawn.
    expect(changed.filter((e) => e.summary.key !== 'dark-mode').every((e) => FLAGS.includes(e))).toBe(true);
  });

  it('adds a new flag, drops an archived or deleted one', () => {
    expect(keys(upsertEntry(FLAGS, summary('brand-new')))).toContain('brand-new');
    expect(keys(upsertEntry(FLAGS, summary('dark-mode', { archived: true })))).not.toContain('dark-mode');
    expect(keys(removeEntry(FLAGS, 'dark-mode'))).toEqual(['checkout-v2', 'search-ranking', 'old-banner', 'pro-plan', 'export-csv']);
  });
});
