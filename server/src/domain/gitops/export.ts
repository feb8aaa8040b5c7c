import { stringify } from 'yaml';
import type { Flag } from '../flags.js';
import type { Segment } from '../segments.js';
import type { Environment } from '../environments.js';
import { sortKeys } from './canonical.js';
import { compactEntry } from './entries.js';
import { FORMAT_VERSION } from './schema.js';

export type ExportFormat = 'yaml' | 'json';

const TOP_LEVEL_ORDER = ['$schema', 'formatVersion', 'environments', 'segments', 'flags'];

export interface CurrentState {
  environments: Environment[];
  segments: Segment[];
  flags: Flag[];
}

/**
 * The current state as a flags file: no versions, timestamps or authors; defaults left out; a
 * stage wherever the targeting is exactly a stage. With `environment`, only that environment.
 */
export function exportDocument(state: CurrentState, environment?: string): Record<string, unknown> {
  const envs = state.environments.filter((e) => environment === undefined || e.key === environment);
  const keep = new Set(envs.map((e) => e.key));
  const environments: Record<string, unknown> = {};
  for (const e of envs) environments[e.key] = { ...(e.name !== e.key ? { name: e.name } : {}), ...(e.critical ? { critical: true } : {}) };
  const segments: Record<string, unknown> = {};
  for (const s of state.segments) {
    segments[s.key] = omitDefaults({ name: s.name, description: s.description, unitAttribute: s.unitAttribute, included: s.included, excluded: s.excluded, rules: s.rules }, s.key, { unitAttribute: 'userId' });
  }
  const flags: Record<string, unknown> = {};
  for (const f of state.flags) {
    const configs: Record<string, unknown> = {};
    for (const [env, config] of Object.entries(f.environments)) if (keep.has(env)) configs[env] = compactEntry(f, config);
    const booleanDefault = f.type === 'boolean' && JSON.stringify(f.variations) === JSON.stringify([{ key: 'off', value: false }, { key: 'on', value: true }]);
    flags[f.key] = omitDefaults(
      { name: f.name, description: f.description, tags: f.tags, owner: f.owner, type: f.type, variations: booleanDefault ? undefined : f.variations, archived: f.archived, clientVisible: f.clientVisible, environments: configs },
      f.key,
      { type: 'boolean', archived: false, clientVisible: false },
    );
  }
  return sortKeys({ formatVersion: FORMAT_VERSION, environments, segments, flags });
}

/** Drop what the file format fills in by itself: empty strings and lists, name = key, defaults. */
function omitDefaults(entry: Record<string, unknown>, key: string, defaults: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(entry)) {
    if (value === undefined || value === '' || (Array.isArray(value) && value.length === 0)) continue;
    if (field === 'name' && value === key) continue;
    if (field in defaults && defaults[field] === value) continue;
    out[field] = value;
  }
  return out;
}

/** The exact bytes of a file: the same document always gives the same text. */
export function serializeDocument(document: unknown, format: ExportFormat): string {
  // Top level in reading order (what the file is about, then what uses it); sorted below that.
  const top = sortKeys(document) as Record<string, unknown>;
  const sorted: Record<string, unknown> = {};
  for (const key of [...TOP_LEVEL_ORDER, ...Object.keys(top)]) if (key in top && !(key in sorted)) sorted[key] = top[key];
  if (format === 'json') return `${JSON.stringify(sorted, null, 2)}\n`;
  return stringify(sorted, { lineWidth: 0, indent: 2, aliasDuplicateObjects: false });
}
