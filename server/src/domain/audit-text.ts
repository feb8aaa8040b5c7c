import type { AuditEntry } from './audit.js';
import { describeValue, sameJson } from './audit-revert.js';
import type { FlagEnvironment } from './flags.js';
import { DOGFOOD_RULE_ID, deriveStage } from './stages.js';

/**
 * An audit entry as one sentence a person reads: "10% → 100% in Production", "killed in Production
 * (was 10%)", "added rule "pro users" in Staging", "renamed "Checkout" → "New checkout"", "added 3
 * members to internal", "created API token "ci-bot" (editor)", "reverted #12: 100% → 10% in
 * Production", "Git sync: …". The API returns it with every entry (`summary`), so the dashboard and
 * the CLI say the same thing.
 *
 * A flag entry leaves the flag out: every view shows it beside the sentence (the flag's page is
 * about it, the log links it). Any other entry names what it changed, since its key is often just
 * an id. Who, when and the comment are the entry's own fields, shown next to it.
 *
 * Pure, and total: the log holds snapshots from every version of the server, so anything it does
 * not recognise reads as the action's words, never as an error.
 */

/** An environment's display name ("Production") from its key; the key when it no longer exists. */
export type EnvironmentName = (key: string) => string;

export function environmentNames(environments: readonly { key: string; name: string }[]): EnvironmentName {
  const names = new Map(environments.map((e) => [e.key, e.name]));
  return (key) => names.get(key) || key;
}

export type DescribableEntry = Pick<AuditEntry, 'action' | 'resourceType' | 'resourceKey' | 'environment' | 'before' | 'after' | 'source' | 'message' | 'commit'>;

/** Longest sentence: a Git sync rewriting many environments stays one line. */
export const MAX_SUMMARY = 300;
/** Changes named in one sentence before "and N more". */
const MAX_PARTS = 4;
const MAX_QUOTED = 60;

type Json = Record<string, unknown>;
const isRecord = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);
const plural = (n: number, word: string, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;
/** A name in quotes, clipped: names are user input of any length. */
const quote = (value: string) => JSON.stringify(value.length > MAX_QUOTED ? `${value.slice(0, MAX_QUOTED - 1)}…` : value);
const quoteAll = (values: readonly string[]) => values.map(quote).join(', ');

function joinParts(parts: readonly string[], separator = ', '): string {
  if (parts.length <= MAX_PARTS) return parts.join(separator);
  return `${parts.slice(0, MAX_PARTS).join(separator)}${separator}and ${parts.length - MAX_PARTS} more`;
}

function clip(sentence: string): string {
  return sentence.length > MAX_SUMMARY ? `${sentence.slice(0, MAX_SUMMARY - 1)}…` : sentence;
}

/** "stage changed" from "flag.stage_changed": the fallback for actions this module does not know. */
function actionWords(action: string): string {
  const verb = action.includes('.') ? action.slice(action.indexOf('.') + 1) : action;
  return verb.replace(/_/g, ' ');
}

/** The sentence for one audit entry (see the module comment). */
export function describeAuditEntry(entry: DescribableEntry, environmentName: EnvironmentName): string {
  let sentence = describeChange(entry, environmentName);
  if (entry.source === 'gitops') sentence = `Git sync: ${sentence}`;
  if (entry.commit) sentence += ` (commit ${entry.commit.slice(0, 7)})`;
  return clip(sentence);
}

function describeChange(entry: DescribableEntry, name: EnvironmentName): string {
  const { action, before, after } = entry;
  const where = entry.environment ? ` in ${name(entry.environment)}` : '';
  if (action.startsWith('release.')) return releaseSentence(action, where);
  if (action === 'incident.ended') return `ended the incident kill${where}: the Git file applies again`;
  switch (entry.resourceType) {
    case 'flag':
      return flagSentence(entry, name);
    case 'segment':
      return segmentSentence(entry);
    case 'environment':
      return environmentSentence(action, entry.resourceKey, before, after);
    case 'api_token': {
      const token = isRecord(after) ? after : isRecord(before) ? before : {};
      const what = `API token ${quote(text(token.name) ?? `#${entry.resourceKey}`)}${text(token.role) ? ` (${String(token.role)})` : ''}`;
      return action === 'api_token.created' ? `created ${what}` : action === 'api_token.revoked' ? `revoked ${what}` : `${actionWords(action)} ${what}`;
    }
    case 'sdk_key': {
      const key = isRecord(after) ? after : isRecord(before) ? before : {};
      const kind = key.kind === 'client' ? 'client key' : 'server SDK key';
      const env = text(key.environment) ?? entry.environment;
      const what = `${kind} ${quote(text(key.name) ?? `#${entry.resourceKey}`)}${env ? ` for ${name(env)}` : ''}`;
      return action === 'sdk_key.created' ? `created ${what}` : action === 'sdk_key.revoked' ? `revoked ${what}` : `${actionWords(action)} ${what}`;
    }
    case 'webhook': {
      const hook = isRecord(after) ? after : isRecord(before) ? before : {};
      const url = text(hook.url) ?? `#${entry.resourceKey}`;
      const events = strings(hook.events);
      if (action === 'webhook.created') return `added webhook ${url}${events.length > 0 ? ` for ${events.join(', ')}` : ''}`;
      if (action === 'webhook.deleted') return `removed webhook ${url}`;
      return `${actionWords(action)} webhook ${url}`;
    }
    case 'schedule':
      return scheduleSentence(entry, name);
    case 'change_request':
      return changeRequestSentence(entry, name);
    default:
      return `${actionWords(action)}${where}`;
  }
}

// Change requests (domain/change-requests.ts).
const REQUEST_WORDS: Readonly<Record<string, string>> = {
  'change_request.created': 'requested',
  'change_request.commented': 'commented on',
  'change_request.approved': 'approved',
  'change_request.rejected': 'rejected',
  'change_request.withdrawn': 'withdrew',
  'change_request.rebased': 'rebased',
  'change_request.applied': 'applied',
};

/** "approved change request #3 "Launch checkout" in Production". */
function changeRequestSentence(entry: DescribableEntry, name: EnvironmentName): string {
  const request = isRecord(entry.after) ? entry.after : isRecord(entry.before) ? entry.before : {};
  const title = text(request.title);
  const env = text(request.environment) ?? entry.environment;
  const bypassed = entry.action === 'change_request.applied' && request.bypassed === true ? ' without its approvals (admin bypass)' : '';
  return `${REQUEST_WORDS[entry.action] ?? actionWords(entry.action)} change request #${entry.resourceKey}${title ? ` ${quote(title)}` : ''}${env ? ` in ${name(env)}` : ''}${bypassed}`;
}

const SCHEDULE_WORDS: Readonly<Record<string, string>> = {
  'schedule.created': 'scheduled',
  'schedule.updated': 'edited the scheduled',
  'schedule.cancelled': 'cancelled the scheduled',
  'schedule.executed': 'ran the scheduled',
  'schedule.skipped': 'skipped the late scheduled',
  'schedule.failed': 'could not run the scheduled',
};

/** "scheduled 50% of "new-checkout" in Production for 2026-12-08 09:00 UTC" (scheduled changes). */
function scheduleSentence(entry: DescribableEntry, name: EnvironmentName): string {
  const schedule = isRecord(entry.after) ? entry.after : isRecord(entry.before) ? entry.before : {};
  const action = isRecord(schedule.action) ? schedule.action : {};
  const what = action.type === 'kill' ? 'kill' : text(action.stage) ?? 'change';
  const flag = text(schedule.flagKey);
  const env = text(schedule.environment) ?? entry.environment;
  const at = typeof schedule.at === 'number' && Number.isFinite(schedule.at) ? ` for ${new Date(schedule.at).toISOString().slice(0, 16).replace('T', ' ')} UTC` : '';
  const verb = SCHEDULE_WORDS[entry.action] ?? actionWords(entry.action);
  // "scheduled apply of change request #12 in Production for …" (it may touch several flags).
  if (action.type === 'change_request' && typeof action.requestId === 'number') return `${verb} apply of change request #${action.requestId}${env ? ` in ${name(env)}` : ''}${at}`;
  return `${verb} ${what}${flag ? ` of ${quote(flag)}` : ` #${entry.resourceKey}`}${env ? ` in ${name(env)}` : ''}${at}`;
}

const RELEASE_WORDS: Readonly<Record<string, string>> = {
  'release.plan_saved': 'saved the release plan',
  'release.plan_deleted': 'deleted the release plan',
  'release.created': 'created a release plan',
  'release.started': 'started the release plan',
  'release.advanced': 'release plan advanced a step',
  'release.skipped': 'skipped a release step',
  'release.paused': 'paused the release plan',
  'release.resumed': 'resumed the release plan',
  'release.completed': 'release plan completed',
  'release.aborted': 'aborted the release plan',
  'release.rolled_back': 'release guard rolled back',
};

function releaseSentence(action: string, where: string): string {
  return `${RELEASE_WORDS[action] ?? `release plan ${actionWords(action)}`}${where}`;
}

/** "#12" from "revert of audit entry #12: comment", the message every revert is stored with. */
function revertedId(message: string | null): string | undefined {
  return message ? /^revert of audit entry (#\d+)/.exec(message)?.[1] : undefined;
}

function flagSentence(entry: DescribableEntry, name: EnvironmentName): string {
  const { action } = entry;
  const before = isRecord(entry.before) ? entry.before : null;
  const after = isRecord(entry.after) ? entry.after : null;
  if (action === 'flag.reverted') {
    const id = revertedId(entry.message);
    const what = !before && after ? 'recreated the flag' : before && !after ? 'deleted the flag' : before && after ? flagDiff(before, after, name) : '';
    return `reverted${id ? ` ${id}` : ''}${what ? `: ${what}` : ''}`;
  }
  if (!before && after) {
    const type = text(after.type);
    const label = text(after.name);
    return `created flag${label && label !== entry.resourceKey ? ` ${quote(label)}` : ''}${type ? ` (${type})` : ''}`;
  }
  if (before && !after) return 'deleted flag';
  if (!before || !after) return `${actionWords(action)}${entry.environment ? ` in ${name(entry.environment)}` : ''}`;
  if (action === 'flag.switched' && entry.environment) {
    const sides = [before, after].map((f) => servedVariation(configOf(f, entry.environment!)));
    if (sides[1]) return `switched to ${quote(sides[1])} in ${name(entry.environment)}${sides[0] && sides[0] !== sides[1] ? ` (was ${quote(sides[0])})` : ''}`;
  }
  if (action === 'flag.promoted' && entry.environment && isRecord(after.promotion) && text(after.promotion.from)) {
    // "promoted Staging's targeting to Production: off → 10%, added rule "pro"" (promotion between environments).
    const [from, to] = [name(text(after.promotion.from)!), name(entry.environment)];
    const was = configOf(before, entry.environment);
    const is = configOf(after, entry.environment);
    const sentence = was && is && !sameJson(was, is) ? configSentence(was, is, to) : '';
    const change = sentence.endsWith(` in ${to}`) ? sentence.slice(0, -` in ${to}`.length) : sentence;
    return `promoted ${from}'s targeting to ${to}${change ? `: ${change}` : ''}`;
  }
  const diff = flagDiff(before, after, name);
  const prefix = action === 'flag.resumed' ? "resumed the Git file's configuration: " : '';
  if (diff) return `${prefix}${diff}`;
  return `${actionWords(action)} with no change${entry.environment ? ` in ${name(entry.environment)}` : ''}`;
}

/** What changed between two flag snapshots: its own fields, then each environment's configuration. */
function flagDiff(before: Json, after: Json, name: EnvironmentName): string {
  const sentences: string[] = [];
  const own = flagFieldParts(before, after);
  if (own.length > 0) sentences.push(joinParts(own));
  const was = isRecord(before.environments) ? before.environments : {};
  const is = isRecord(after.environments) ? after.environments : {};
  for (const env of Object.keys(is)) {
    // An environment on one side only came or went with the environment itself, not with this change.
    if (!Object.hasOwn(was, env)) continue;
    const from = asConfig(was[env]);
    const to = asConfig(is[env]);
    if (!from || !to || sameJson(from, to)) continue;
    sentences.push(configSentence(from, to, name(env)));
  }
  return joinParts(sentences, '; ');
}

function flagFieldParts(before: Json, after: Json): string[] {
  const parts: string[] = [];
  const changed = (field: string) => !sameJson(before[field], after[field]);
  if (changed('name')) parts.push(`renamed ${quote(text(before.name) ?? '')} → ${quote(text(after.name) ?? '')}`);
  if (changed('description')) parts.push(!text(before.description) ? 'added a description' : !text(after.description) ? 'removed the description' : 'changed the description');
  if (changed('tags')) {
    const was = strings(before.tags);
    const is = strings(after.tags);
    const added = is.filter((t) => !was.includes(t));
    const removed = was.filter((t) => !is.includes(t));
    if (added.length > 0) parts.push(`added ${added.length === 1 ? 'tag' : 'tags'} ${quoteAll(added)}`);
    if (removed.length > 0) parts.push(`removed ${removed.length === 1 ? 'tag' : 'tags'} ${quoteAll(removed)}`);
    if (added.length === 0 && removed.length === 0) parts.push('reordered the tags');
  }
  if (changed('owner')) {
    const was = text(before.owner);
    const is = text(after.owner);
    parts.push(!was ? `set the owner to ${quote(is ?? '')}` : !is ? `removed the owner ${quote(was)}` : `owner ${quote(was)} → ${quote(is)}`);
  }
  if (changed('type')) parts.push(`type ${String(before.type)} → ${String(after.type)}`);
  if (changed('variations')) parts.push(...keyedChanges(before.variations, after.variations, 'variation', (v) => text(v.key)));
  if (changed('archived')) parts.push(after.archived === true ? 'archived' : 'unarchived');
  if (changed('clientVisible')) parts.push(after.clientVisible === true ? 'made visible to client keys' : 'hid from client keys');
  return parts;
}

/** Added, removed and changed items of a list keyed by `keyOf` (variations, rules). */
function keyedChanges(before: unknown, after: unknown, noun: string, keyOf: (item: Json) => string | undefined, label: (item: Json) => string = (item) => keyOf(item) ?? ''): string[] {
  const list = (value: unknown) => (Array.isArray(value) ? value.filter(isRecord) : []);
  const was = new Map(list(before).map((item) => [keyOf(item), item]));
  const is = new Map(list(after).map((item) => [keyOf(item), item]));
  const added = [...is].filter(([key]) => !was.has(key)).map(([, item]) => label(item));
  const removed = [...was].filter(([key]) => !is.has(key)).map(([, item]) => label(item));
  const changed = [...is].filter(([key, item]) => was.has(key) && !sameJson(was.get(key), item)).map(([, item]) => label(item));
  const parts: string[] = [];
  const many = (n: number) => (n === 1 ? noun : `${noun}s`);
  if (added.length > 0) parts.push(`added ${many(added.length)} ${quoteAll(added)}`);
  if (removed.length > 0) parts.push(`removed ${many(removed.length)} ${quoteAll(removed)}`);
  if (changed.length > 0) parts.push(`changed ${many(changed.length)} ${quoteAll(changed)}`);
  const common = (order: Map<string | undefined, Json>, other: Map<string | undefined, Json>) => [...order.keys()].filter((key) => other.has(key));
  if (parts.length === 0 && !sameJson(common(was, is), common(is, was))) parts.push(`reordered the ${noun}s`);
  return parts;
}

/** A stored configuration, if it has what the stage vocabulary reads (old snapshots may not). */
function asConfig(value: unknown): FlagEnvironment | undefined {
  if (!isRecord(value)) return undefined;
  const ok = typeof value.on === 'boolean' && Array.isArray(value.rules) && Array.isArray(value.targets) && isRecord(value.defaultServe) && typeof value.offVariation === 'string';
  return ok ? ({ killed: false, ...value } as unknown as FlagEnvironment) : undefined;
}

function configOf(flag: Json, environment: string): FlagEnvironment | undefined {
  const environments = isRecord(flag.environments) ? flag.environments : {};
  return Object.hasOwn(environments, environment) ? asConfig(environments[environment]) : undefined;
}

function servedVariation(config: FlagEnvironment | undefined): string | undefined {
  if (!config) return undefined;
  return 'variation' in config.defaultServe ? config.defaultServe.variation : undefined;
}

/**
 * Where the release stands in stage words, the other rules and targets aside: a stage change moves
 * only the dogfood and default rules, so "10% → 100%" stays true next to a rule for pro users.
 */
function stageWords(config: FlagEnvironment): string {
  if (!config.on) return config.killed ? 'killed' : 'off';
  const stage = deriveStage({ ...config, rules: config.rules.filter((r) => r.id === DOGFOOD_RULE_ID), targets: [] });
  return stage === 'custom' ? 'custom targeting' : stage;
}

const ruleLabel = (rule: Json) => text(rule.description) || text(rule.id) || '?';

/** One environment's change: "10% → 100% in Production", "killed in Production (was 10%)", "added rule "pro users" in Staging". */
function configSentence(before: FlagEnvironment, after: FlagEnvironment, env: string): string {
  const from = stageWords(before);
  const to = stageWords(after);
  const moved = from !== to;
  const parts: string[] = [];
  let note = '';
  if (moved && to === 'killed') {
    parts.push('killed');
    if (before.on) note = ` (was ${from})`;
  } else if (moved) {
    parts.push(`${from} → ${to}`);
  }
  // A stage move rewrites the dogfood rule, the default rule and on/killed: the move says it all.
  const rules = (config: FlagEnvironment) => (moved ? config.rules.filter((r) => r.id !== DOGFOOD_RULE_ID) : config.rules);
  const ruleParts = keyedChanges(rules(before), rules(after), 'rule', (r) => text(r.id), ruleLabel);
  parts.push(...ruleParts);
  parts.push(...targetChanges(before, after));
  if (!moved && !sameJson(before.defaultServe, after.defaultServe)) parts.push(`default ${describeValue('defaultServe', before.defaultServe)} → ${describeValue('defaultServe', after.defaultServe)}`);
  if (before.offVariation !== after.offVariation) parts.push(`off variation ${quote(before.offVariation)} → ${quote(after.offVariation)}`);
  if (before.bucketBy !== after.bucketBy) parts.push(`bucket by ${before.bucketBy ?? 'userId'} → ${after.bucketBy ?? 'userId'}`);
  if (before.salt !== after.salt) parts.push('changed the salt (a new random rollout)');
  const described = new Set(['on', 'killed', 'rules', 'targets', 'defaultServe', 'offVariation', 'bucketBy', 'salt']);
  const others = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((f) => !described.has(f) && !sameJson((before as unknown as Json)[f], (after as unknown as Json)[f]));
  if (parts.length === 0 && others.length > 0) parts.push(`changed ${others.join(', ')}`);
  if (parts.length === 0) parts.push(moved ? `${from} → ${to}` : 'changed the targeting');
  return `${joinParts(parts)} in ${env}${note}`;
}

function targetChanges(before: FlagEnvironment, after: FlagEnvironment): string[] {
  const byVariation = (config: FlagEnvironment) => {
    const map = new Map<string, Set<string>>();
    for (const t of config.targets) if (isRecord(t)) map.set(t.variation, new Set([...(map.get(t.variation) ?? []), ...strings(t.values)]));
    return map;
  };
  const was = byVariation(before);
  const is = byVariation(after);
  const parts: string[] = [];
  for (const variation of new Set([...is.keys(), ...was.keys()])) {
    const from = was.get(variation) ?? new Set<string>();
    const to = is.get(variation) ?? new Set<string>();
    const added = [...to].filter((v) => !from.has(v)).length;
    const removed = [...from].filter((v) => !to.has(v)).length;
    if (added > 0) parts.push(`targeted ${plural(added, 'user')} at ${quote(variation)}`);
    if (removed > 0) parts.push(`removed ${plural(removed, 'target')} from ${quote(variation)}`);
  }
  return parts;
}

/** A segment change; one change reads as a sentence about the segment, several as a list after its key. */
function segmentSentence(entry: DescribableEntry): string {
  const key = entry.resourceKey;
  const before = isRecord(entry.before) ? entry.before : null;
  const after = isRecord(entry.after) ? entry.after : null;
  const revert = entry.action === 'segment.reverted' ? `reverted${revertedId(entry.message) ? ` ${revertedId(entry.message)!}` : ''}: ` : '';
  if (!before && after) {
    const members = strings(after.included).length;
    return `${revert}created segment ${key}${text(after.name) && after.name !== key ? ` (${quote(String(after.name))})` : ''}${members > 0 ? ` with ${plural(members, 'member')}` : ''}`;
  }
  if (before && !after) return `${revert}deleted segment ${key}`;
  if (!before || !after) return `${actionWords(entry.action)} segment ${key}`;
  // Each change: its words, and the preposition that ties it to the segment when it is the only one.
  const changes: [string, string][] = [];
  const set = (field: string) => ({ was: new Set(strings(before[field])), is: new Set(strings(after[field])) });
  const included = set('included');
  const excluded = set('excluded');
  const count = (from: Set<string>, to: Set<string>) => [...to].filter((v) => !from.has(v)).length;
  const addedMembers = count(included.was, included.is);
  const removedMembers = count(included.is, included.was);
  if (addedMembers > 0) changes.push([`added ${plural(addedMembers, 'member')}`, 'to']);
  if (removedMembers > 0) changes.push([`removed ${plural(removedMembers, 'member')}`, 'from']);
  const newlyExcluded = count(excluded.was, excluded.is);
  const noLongerExcluded = count(excluded.is, excluded.was);
  if (newlyExcluded > 0) changes.push([`excluded ${plural(newlyExcluded, 'user')}`, 'from']);
  if (noLongerExcluded > 0) changes.push([`stopped excluding ${plural(noLongerExcluded, 'user')}`, 'from']);
  for (const part of keyedChanges(before.rules, after.rules, 'rule', (r) => text(r.id), ruleLabel)) changes.push([part, part.startsWith('added') ? 'to' : part.startsWith('removed') ? 'from' : 'in']);
  if (!sameJson(before.name, after.name)) changes.push([`renamed ${quote(text(before.name) ?? '')} → ${quote(text(after.name) ?? '')}`, '']);
  if (!sameJson(before.description, after.description)) changes.push(['changed the description', 'of']);
  if (!sameJson(before.unitAttribute, after.unitAttribute)) changes.push([`matches by ${String(after.unitAttribute)} (was ${String(before.unitAttribute)})`, '']);
  if (changes.length === 0) return `${revert}${actionWords(entry.action)} segment ${key} with no change`;
  if (changes.length === 1) {
    const [words, preposition] = changes[0]!;
    return `${revert}${preposition ? `${words} ${preposition} ${key}` : `segment ${key} ${words}`}`;
  }
  return `${revert}segment ${key}: ${joinParts(changes.map(([words]) => words))}`;
}

function environmentSentence(action: string, key: string, before: unknown, after: unknown): string {
  const was = isRecord(before) ? before : {};
  const is = isRecord(after) ? after : {};
  const label = text(is.name) ?? text(was.name) ?? key;
  switch (action) {
    case 'environment.created':
      return `created ${is.critical === true ? 'critical ' : ''}environment ${label}${label !== key ? ` (${key})` : ''}`;
    case 'environment.deleted':
      return `deleted environment ${label}`;
    case 'environment.secure_mode_enabled':
      return `turned on secure mode for client keys in ${label}`;
    case 'environment.secure_mode_rotated':
      return `rotated the secure-mode secret of ${label}`;
    case 'environment.secure_mode_disabled':
      return `turned off secure mode for client keys in ${label}`;
    case 'environment.approval_policy_changed':
      if (is.required !== true) return `turned off required approvals in ${key}`;
      return `required ${String(is.approvals)} approval${is.approvals === 1 ? '' : 's'} for changes in ${key}${is.adminBypass === true ? ' (admins may bypass)' : ''}`;
  }
  const parts: string[] = [];
  if (!sameJson(was.name, is.name)) parts.push(`renamed environment ${key} ${quote(text(was.name) ?? key)} → ${quote(text(is.name) ?? key)}`);
  if (!sameJson(was.critical, is.critical)) parts.push(is.critical === true ? `marked ${label} critical` : `${label} is no longer critical`);
  if (!sameJson(was.sortOrder, is.sortOrder) && was.sortOrder !== undefined) parts.push(`moved ${label} in the order`);
  return parts.length > 0 ? joinParts(parts) : `${actionWords(action)} environment ${label}`;
}
