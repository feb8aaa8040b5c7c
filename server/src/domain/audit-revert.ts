import { BUCKETS } from '@switchyard/sdk';
import type { AuditEntry, AuditResource } from './audit.js';
import { AppError } from './errors.js';
import { matchesPatterns, type PatternSite } from './flag-validation.js';
import { flagEnvironmentSchema, ownEntry, type Flag, type FlagEnvironment } from './flags.js';
import { segmentBodySchema, type Segment } from './segments.js';
import { deriveStage, formatPercentage } from './stages.js';

/**
 * Reverting an audit entry undoes exactly what that entry changed: the fields of the flag — or of
 * one environment's configuration of it — or of the segment whose values differ between the
 * entry's before and after. Everything else stays as it is now: reverting a production change
 * never touches a later staging change. When a later change touched one of the same fields, the
 * revert is refused (it would silently undo that change too) and the later change is named.
 *
 * Pure: the service reads the entry, the entries since and the current state, and writes the
 * result through the one write path.
 */

export type RevertibleResource = Extract<AuditResource, 'flag' | 'segment'>;

/** A field of a flag or segment; `environment` names the flag configuration it lives in (null: the resource's own field). */
export interface FieldRef {
  environment: string | null;
  field: string;
}

/** One field an entry changed: its value before and after the entry (undefined: absent). */
export interface FieldEdit extends FieldRef {
  before: unknown;
  after: unknown;
}

/** What an audit entry did to its flag or segment. */
export type EntryEffect =
  | { kind: 'created'; resourceType: RevertibleResource; snapshot: Record<string, unknown> }
  | { kind: 'deleted'; resourceType: RevertibleResource; snapshot: Record<string, unknown> }
  | { kind: 'changed'; resourceType: RevertibleResource; edits: FieldEdit[] };

/** A later change that touched fields the revert would write (entry null: a change the log no longer holds). */
export interface LaterChange {
  entry: Pick<AuditEntry, 'id' | 'actor' | 'at' | 'action'> | null;
  /** The fields both changed; empty when the later change created or deleted the whole resource. */
  fields: FieldRef[];
}

/** A flag's own fields (besides its key and version stamps); each is reverted on its own. */
export const FLAG_FIELDS = ['name', 'description', 'tags', 'owner', 'type', 'variations', 'archived', 'clientVisible'] as const satisfies readonly (keyof Flag)[];
/** A flag configuration's fields, straight from its schema so a new field is revertible too. */
export const CONFIG_FIELDS = Object.keys(flagEnvironmentSchema.shape) as (keyof FlagEnvironment)[];
export const SEGMENT_FIELDS = Object.keys(segmentBodySchema.shape).filter((f) => f !== 'key') as (keyof Segment)[];
/** Fields a configuration may lack: reverting to "absent" removes them. Any other field absent before the entry predates the field itself. */
const OPTIONAL_CONFIG_FIELDS: ReadonlySet<string> = new Set(['guarded']);

// Every field of a flag is either revertible or bookkeeping: a new one must be added to a list.
type Unlisted = Exclude<keyof Flag, (typeof FLAG_FIELDS)[number] | 'key' | 'version' | 'createdAt' | 'updatedAt' | 'updatedBy' | 'environments'>;
const everyFlagFieldListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyFlagFieldListed;

const REVERTIBLE: readonly string[] = ['flag', 'segment'] satisfies RevertibleResource[];
/** Entries about environments that replace every flag's configuration there. */
const ENVIRONMENT_LIFECYCLE = new Set(['environment.created', 'environment.deleted']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Equality of stored JSON: key order and undefined-valued keys do not count (PostgreSQL's jsonb
 * reorders keys, and JSON drops undefined ones).
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  }
  if (!isRecord(a) || !isRecord(b)) return false;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) if (!sameJson(a[key], b[key])) return false;
  return true;
}

const article = (word: string) => (/^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`);

/** The fields of one resource state that differ from another, flag configurations per environment. */
function fieldEdits(resourceType: RevertibleResource, before: Record<string, unknown>, after: Record<string, unknown>): FieldEdit[] {
  const edits: FieldEdit[] = [];
  const own = (fields: readonly string[], environment: string | null, from: Record<string, unknown>, to: Record<string, unknown>, optional: ReadonlySet<string>) => {
    for (const field of fields) {
      const was = from[field];
      const is = to[field];
      if (sameJson(was, is)) continue;
      // A required field absent before the entry did not exist yet: there is nothing to go back to.
      if (was === undefined && !optional.has(field)) continue;
      edits.push({ environment, field, before: was, after: is });
    }
  };
  if (resourceType === 'segment') {
    own(SEGMENT_FIELDS, null, before, after, new Set());
    return edits;
  }
  own(FLAG_FIELDS, null, before, after, new Set());
  const was = isRecord(before.environments) ? before.environments : {};
  const is = isRecord(after.environments) ? after.environments : {};
  // An environment on one side only appeared or went away with the environment itself, not with this change.
  for (const environment of Object.keys(is).sort()) {
    const from = ownEntry(was, environment);
    const to = ownEntry(is, environment);
    if (isRecord(from) && isRecord(to)) own(CONFIG_FIELDS, environment, from, to, OPTIONAL_CONFIG_FIELDS);
  }
  return edits;
}

/**
 * What an entry did, or a 400 when it is no change of a flag or segment (tokens, SDK keys,
 * environments, webhooks, release plans).
 */
export function entryEffect(entry: Pick<AuditEntry, 'id' | 'action' | 'resourceType' | 'before' | 'after'>): EntryEffect {
  const { id, action } = entry;
  if (!REVERTIBLE.includes(entry.resourceType)) {
    throw new AppError('bad_request', `audit entry ${id} is about ${article(entry.resourceType.replace('_', ' '))} (${action}); only flag changes can be reverted (and segment changes)`);
  }
  const resourceType = entry.resourceType as RevertibleResource;
  const before = isRecord(entry.before) ? entry.before : null;
  const after = isRecord(entry.after) ? entry.after : null;
  // Release plans are logged under their flag but hold no flag state.
  if (!action.startsWith(`${resourceType}.`) || (before === null && after === null)) {
    throw new AppError('bad_request', `audit entry ${id} (${action}) records no change to the ${resourceType} itself; only changes of its fields can be reverted`);
  }
  if (before === null) return { kind: 'created', resourceType, snapshot: after! };
  if (after === null) return { kind: 'deleted', resourceType, snapshot: before };
  return { kind: 'changed', resourceType, edits: fieldEdits(resourceType, before, after) };
}

/** The fields a later entry touched: 'all' when it created or deleted the resource or replaced an environment. */
function touched(later: AuditEntry, resourceType: RevertibleResource): ((ref: FieldRef) => boolean) | null {
  if (later.resourceType === 'environment') {
    return ENVIRONMENT_LIFECYCLE.has(later.action) ? (ref) => ref.environment === later.resourceKey : null;
  }
  if (later.resourceType !== resourceType || !later.action.startsWith(`${resourceType}.`)) return null;
  const before = isRecord(later.before) ? later.before : null;
  const after = isRecord(later.after) ? later.after : null;
  if (before === null && after === null) return null;
  if (before === null || after === null) return () => true;
  const edits = fieldEdits(resourceType, before, after);
  return (ref) => edits.some((e) => e.field === ref.field && e.environment === ref.environment);
}

/**
 * The later entries (of the same resource, or of the environments it changed) that touched any
 * field the revert would write, oldest first. For a creation or deletion, any later change of the
 * resource conflicts.
 */
export function laterConflicts(effect: EntryEffect, later: readonly AuditEntry[]): LaterChange[] {
  const conflicts: LaterChange[] = [];
  for (const entry of [...later].sort((a, b) => a.id - b.id)) {
    const touches = touched(entry, effect.resourceType);
    if (!touches) continue;
    const summary = { id: entry.id, actor: entry.actor, at: entry.at, action: entry.action };
    if (effect.kind !== 'changed') {
      if (entry.resourceType === effect.resourceType) conflicts.push({ entry: summary, fields: [] });
      continue;
    }
    const fields = effect.edits.filter(touches).map(({ environment, field }) => ({ environment, field }));
    if (fields.length > 0) conflicts.push({ entry: summary, fields });
  }
  return conflicts;
}

/** A field's current value (a missing flag configuration has none). */
export function currentValue(resource: Record<string, unknown>, ref: FieldRef): unknown {
  if (ref.environment === null) return resource[ref.field];
  const environments = isRecord(resource.environments) ? resource.environments : {};
  const config = ownEntry(environments, ref.environment);
  return isRecord(config) ? config[ref.field] : undefined;
}

/**
 * Fields that no longer hold the value the entry wrote although no later entry names them (the
 * log lost it, or a write raced the read): the revert would undo an unknown change, so they
 * conflict too.
 */
export function unexplainedDrift(edits: readonly FieldEdit[], current: Record<string, unknown>, named: readonly LaterChange[]): LaterChange | null {
  const explained = (e: FieldRef) => named.some((c) => c.fields.length === 0 || c.fields.some((f) => f.field === e.field && f.environment === e.environment));
  const fields = edits.filter((e) => !explained(e) && !sameJson(currentValue(current, e), e.after)).map(({ environment, field }) => ({ environment, field }));
  return fields.length > 0 ? { entry: null, fields } : null;
}

/** `current` with every edited field set back to its value before the entry; nothing else changes. */
export function applyRevert<T extends object>(current: T, edits: readonly FieldEdit[]): T {
  const next = { ...current } as Record<string, unknown>;
  const environments = isRecord(next.environments) ? { ...next.environments } : undefined;
  const copied = new Set<string>();
  const set = (target: Record<string, unknown>, field: string, value: unknown) => {
    if (value === undefined) delete target[field];
    else target[field] = structuredClone(value);
  };
  for (const edit of edits) {
    if (edit.environment === null) {
      set(next, edit.field, edit.before);
      continue;
    }
    if (!environments) continue;
    const config = ownEntry(environments, edit.environment);
    if (!isRecord(config)) continue;
    // The first edit of an environment copies its configuration; untouched ones stay the same objects.
    const copy = copied.has(edit.environment) ? config : { ...config };
    copied.add(edit.environment);
    set(copy, edit.field, edit.before);
    environments[edit.environment] = copy;
  }
  if (environments) next.environments = environments;
  return next as T;
}

type RulesLike = Parameters<typeof matchesPatterns>[0];
const rulesIn = (value: unknown): RulesLike => (Array.isArray(value) ? (value.filter(isRecord).filter((r) => Array.isArray(r.clauses)) as unknown as RulesLike) : []);

/**
 * The `matches` patterns a revert would bring back, with the path each is refused at: a value
 * from the log may predate the pattern-safety check, and must pass it to return.
 */
export function restoredPatterns(effect: EntryEffect): PatternSite[] {
  if (effect.kind === 'created') return [];
  if (effect.kind === 'changed') {
    return effect.edits.filter((e) => e.field === 'rules').flatMap((e) => matchesPatterns(rulesIn(e.before), e.environment === null ? '' : `environments.${e.environment}.`));
  }
  if (effect.resourceType === 'segment') return matchesPatterns(rulesIn(effect.snapshot.rules), '');
  const environments = isRecord(effect.snapshot.environments) ? effect.snapshot.environments : {};
  return Object.entries(environments).flatMap(([env, config]) => (isRecord(config) ? matchesPatterns(rulesIn(config.rules), `environments.${env}.`) : []));
}

export const fieldName = (ref: FieldRef): string => (ref.environment === null ? ref.field : `${ref.environment}.${ref.field}`);

/** "production.rules, production.defaultServe were changed later by entry #15 (flag.stage_changed by ana at …)". */
export function laterChangesText(conflicts: readonly LaterChange[]): string {
  const shown = conflicts.slice(0, 5).map((c) => {
    const what = c.fields.length === 0 ? 'it was changed later' : `${c.fields.map(fieldName).join(', ')} ${c.fields.length === 1 ? 'was' : 'were'} changed later`;
    return c.entry === null ? `${what}, by a change the audit log no longer shows` : `${what} by entry #${c.entry.id} (${c.entry.action} by ${c.entry.actor} at ${new Date(c.entry.at).toISOString()})`;
  });
  const more = conflicts.length > shown.length ? `; and ${conflicts.length - shown.length} more later change(s)` : '';
  return `${shown.join('; ')}${more}`;
}

/** Why a revert is refused when later changes touched the same fields. */
export function describeConflicts(id: number, conflicts: readonly LaterChange[]): string {
  return `cannot revert audit entry ${id}: ${laterChangesText(conflicts)}. Reverting it would undo those changes too; revert them first, or make the change by hand`;
}

// ---- the preview: readable values ----

const MAX_TEXT = 80;

function clip(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function listed(items: readonly string[]): string {
  return items.length <= 5 ? items.join(', ') : `${items.slice(0, 5).join(', ')}, …`;
}

/** A short, readable form of a field's value: `on 10% / off 90%`, `2 rules (dogfood, beta)`. */
export function describeValue(field: string, value: unknown): string {
  if (value === undefined) return '(none)';
  if (field === 'defaultServe' && isRecord(value)) {
    if (typeof value.variation === 'string') return value.variation;
    const shares = isRecord(value.rollout) && Array.isArray(value.rollout.variations) ? value.rollout.variations : [];
    return shares
      .filter(isRecord)
      .map((s) => `${String(s.variation)} ${formatPercentage((Number(s.weight) * 100) / BUCKETS)}`)
      .join(' / ');
  }
  if (field === 'rules' && Array.isArray(value)) {
    const ids = value.filter(isRecord).map((r) => String(r.id));
    return value.length === 0 ? 'no rules' : `${plural(value.length, 'rule')} (${listed(ids)})`;
  }
  if (field === 'targets' && Array.isArray(value)) {
    const parts = value.filter(isRecord).map((t) => `${String(t.variation)}: ${plural(Array.isArray(t.values) ? t.values.length : 0, 'id')}`);
    return parts.length === 0 ? 'no targets' : parts.join(', ');
  }
  if (field === 'variations' && Array.isArray(value)) return listed(value.filter(isRecord).map((v) => `${String(v.key)}=${JSON.stringify(v.value)}`));
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
    return value.length === 0 ? '[]' : `${plural(value.length, 'item')} (${listed(value)})`;
  }
  return clip(JSON.stringify(value) ?? String(value));
}

/** `production: defaultServe on 100% → on 10% / off 90%` (values spelled out when the short forms agree). */
export function describeEdit(ref: FieldRef, from: unknown, to: unknown): string {
  let a = describeValue(ref.field, from);
  let b = describeValue(ref.field, to);
  if (a === b) {
    a = clip(JSON.stringify(from) ?? '(none)');
    b = clip(JSON.stringify(to) ?? '(none)');
  }
  return `${ref.environment === null ? '' : `${ref.environment}: `}${ref.field} ${a} → ${b}`;
}

/** The release stage of a flag configuration, or undefined when it has none (a missing environment). */
export function stageOf(flag: Pick<Flag, 'environments'>, environment: string): string | undefined {
  const config = ownEntry(flag.environments, environment);
  return config ? deriveStage(config) : undefined;
}
