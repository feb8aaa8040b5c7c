import { LIFECYCLES, type FlagSummary, type Lifecycle } from '../api/types.js';
import { describeStage, stageRank, type StageKind } from './stages.js';

/**
 * The flag list's filtering, sorting and counting, kept pure: at 5,000 flags a keystroke must
 * redraw in under 50 ms, so each summary's search text, sort keys and stage kinds are computed once
 * when it arrives (`toEntry`), and a keystroke is one pass over the entries (`applyFilters`).
 */

export const STAGE_KINDS: readonly StageKind[] = ['off', 'dogfood', 'rollout', 'full', 'kill', 'custom'];

export const STAGE_KIND_LABELS: Record<StageKind, string> = {
  off: 'Off',
  dogfood: 'Dogfood',
  rollout: 'Partial rollout',
  full: '100%',
  kill: 'Killed',
  custom: 'Custom',
};

export const SORTS = ['name', 'key', 'updated', 'stage'] as const;
export type FlagSort = (typeof SORTS)[number];

export interface ListEntry {
  summary: FlagSummary;
  /** Key, name, tags and owner, lowercased: what the search box matches. */
  search: string;
  nameLower: string;
  /** Milliseconds since the epoch (NaN-safe: an unreadable time sorts last). */
  updatedAt: number;
  /** The stage kind per environment key. */
  kinds: Record<string, StageKind>;
  /** Position on the ramp per environment key, for the stage sort. */
  ranks: Record<string, number>;
}

/** Custom and killed come after the ramp (off 0 … 100% 3) when sorting by stage. */
const RANK_CUSTOM = 4;
const RANK_KILL = 5;

/** Stages repeat (a handful of values over 15,000 environments): each is described once. */
const stageViews = new Map<string, { kind: StageKind; rank: number }>();
function stageView(stage: string): { kind: StageKind; rank: number } {
  let view = stageViews.get(stage);
  if (!view) {
    const kind = describeStage(stage).kind;
    view = { kind, rank: stageRank(stage) ?? (kind === 'kill' ? RANK_KILL : RANK_CUSTOM) };
    stageViews.set(stage, view);
  }
  return view;
}

export function toEntry(summary: FlagSummary): ListEntry {
  const kinds: Record<string, StageKind> = {};
  const ranks: Record<string, number> = {};
  for (const env in summary.environments) {
    const { kind, rank } = stageView(summary.environments[env]!.stage);
    kinds[env] = kind;
    ranks[env] = rank;
  }
  const updatedAt = Date.parse(summary.updatedAt);
  return {
    summary,
    search: [summary.key, summary.name, summary.owner, ...summary.tags].join('\n').toLowerCase(),
    nameLower: summary.name.toLowerCase(),
    updatedAt: Number.isNaN(updatedAt) ? 0 : updatedAt,
    kinds,
    ranks,
  };
}

/** A flag without an entry for the environment (it cannot be created there yet) counts as off. */
export const kindIn = (entry: ListEntry, env: string): StageKind => entry.kinds[env] ?? 'off';
const rankIn = (entry: ListEntry, env: string): number => entry.ranks[env] ?? 0;

const byKey = (a: ListEntry, b: ListEntry) => (a.summary.key < b.summary.key ? -1 : a.summary.key > b.summary.key ? 1 : 0);
const byName = (a: ListEntry, b: ListEntry) => (a.nameLower < b.nameLower ? -1 : a.nameLower > b.nameLower ? 1 : byKey(a, b));

/** A sorted copy: name and key A→Z, last change newest first, stage in `env` along the ramp (custom, then killed, last). */
export function sortEntries(entries: readonly ListEntry[], sort: FlagSort, env: string): ListEntry[] {
  const compare: Record<FlagSort, (a: ListEntry, b: ListEntry) => number> = {
    name: byName,
    key: byKey,
    updated: (a, b) => b.updatedAt - a.updatedAt || byKey(a, b),
    stage: (a, b) => rankIn(a, env) - rankIn(b, env) || byName(a, b),
  };
  return [...entries].sort(compare[sort]);
}

export interface ListQuery {
  q: string;
  tag: string;
  owner: string;
  /** Only flags at this point of their lifecycle ('' for any). */
  lifecycle: Lifecycle | '';
  /** Applies to `env`. */
  stage: StageKind | '';
  sort: FlagSort;
  /** The selected environment: the one the stage filter, the counts and the stage sort look at. */
  env: string;
}

export interface Filtered {
  /** The entries that pass every filter, in the order given. */
  visible: ListEntry[];
  /** Per stage kind in `query.env`: the entries that pass every filter but the stage one. */
  counts: Record<StageKind, number>;
}

/** One pass: the visible entries and the per-stage counts a stage chip shows. */
export function applyFilters(entries: readonly ListEntry[], query: ListQuery): Filtered {
  const needle = query.q.trim().toLowerCase();
  const counts: Record<StageKind, number> = { off: 0, dogfood: 0, rollout: 0, full: 0, kill: 0, custom: 0 };
  const visible: ListEntry[] = [];
  for (const entry of entries) {
    if (needle && !entry.search.includes(needle)) continue;
    if (query.tag && !entry.summary.tags.includes(query.tag)) continue;
    if (query.owner && entry.summary.owner !== query.owner) continue;
    if (query.lifecycle && entry.summary.lifecycle !== query.lifecycle) continue;
    const kind = kindIn(entry, query.env);
    counts[kind]++;
    if (!query.stage || kind === query.stage) visible.push(entry);
  }
  return { visible, counts };
}

/** The tags and owners present, sorted, for the filter menus. */
export function facets(entries: readonly ListEntry[]): { tags: string[]; owners: string[] } {
  const tags = new Set<string>();
  const owners = new Set<string>();
  for (const { summary } of entries) {
    for (const tag of summary.tags) tags.add(tag);
    if (summary.owner) owners.add(summary.owner);
  }
  return { tags: [...tags].sort(), owners: [...owners].sort() };
}

const isStageKind = (value: string): value is StageKind => (STAGE_KINDS as readonly string[]).includes(value);
const isSort = (value: string): value is FlagSort => (SORTS as readonly string[]).includes(value);
const isLifecycle = (value: string): value is Lifecycle => (LIFECYCLES as readonly string[]).includes(value);

/**
 * The list's state from a query string (`?q=checkout&tag=payments&owner=team-a&stage=rollout&sort=updated&env=staging`).
 * A value that names no stage, sort or environment is left out, and `problems` says so: a mistyped
 * link shows the unfiltered list with a note, never an empty one.
 */
export function parseListQuery(params: URLSearchParams, environments: readonly string[], fallbackEnv: string): { query: ListQuery; problems: string[] } {
  const problems: string[] = [];
  const stage = params.get('stage') ?? '';
  const sort = params.get('sort') ?? '';
  const env = params.get('env') ?? '';
  const lifecycle = params.get('lifecycle') ?? '';
  if (lifecycle && !isLifecycle(lifecycle)) problems.push(`unknown lifecycle "${lifecycle}" (use ${LIFECYCLES.join(', ')})`);
  if (stage && !isStageKind(stage)) problems.push(`unknown stage "${stage}" (use ${STAGE_KINDS.join(', ')})`);
  if (sort && !isSort(sort)) problems.push(`unknown sort "${sort}" (use ${SORTS.join(', ')})`);
  if (env && !environments.includes(env)) problems.push(`unknown environment "${env}"`);
  return {
    query: {
      q: params.get('q') ?? '',
      tag: params.get('tag') ?? '',
      owner: params.get('owner') ?? '',
      lifecycle: isLifecycle(lifecycle) ? lifecycle : '',
      stage: isStageKind(stage) ? stage : '',
      sort: isSort(sort) ? sort : 'name',
      env: env && environments.includes(env) ? env : fallbackEnv,
    },
    problems,
  };
}

/** The query string for `query`: defaults (no filter, sort by name) left out, the environment always in, so a shared link shows the same view. */
export function listQueryToParams(query: ListQuery): URLSearchParams {
  const params = new URLSearchParams();
  if (query.q) params.set('q', query.q);
  if (query.tag) params.set('tag', query.tag);
  if (query.owner) params.set('owner', query.owner);
  if (query.lifecycle) params.set('lifecycle', query.lifecycle);
  if (query.stage) params.set('stage', query.stage);
  if (query.sort !== 'name') params.set('sort', query.sort);
  params.set('env', query.env);
  return params;
}

/** The entries with `summary` in place of the flag's old entry (or added); an archived flag leaves the list, as the list leaves archived flags out. */
export function upsertEntry(entries: readonly ListEntry[], summary: FlagSummary): ListEntry[] {
  const rest = entries.filter((e) => e.summary.key !== summary.key);
  return summary.archived ? rest : [...rest, toEntry(summary)];
}

export function removeEntry(entries: readonly ListEntry[], key: string): ListEntry[] {
  return entries.filter((e) => e.summary.key !== key);
}
