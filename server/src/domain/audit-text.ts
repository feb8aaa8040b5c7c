import { sameJson } from './audit-revert.js';
import { flagSentence } from './audit-text-flags.js';
import { actionWords, isRecord, joinParts, keyedChanges, plural, quote, revertedId, ruleLabel, strings, text, type DescribableEntry, type EnvironmentName } from './audit-text-words.js';

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

export type { DescribableEntry, EnvironmentName } from './audit-text-words.js';

export function environmentNames(environments: readonly { key: string; name: string }[]): EnvironmentName {
  const names = new Map(environments.map((e) => [e.key, e.name]));
  return (key) => names.get(key) || key;
}

/** Longest sentence: a Git sync rewriting many environments stays one line. */
export const MAX_SUMMARY = 300;

function clip(sentence: string): string {
  return sentence.length > MAX_SUMMARY ? `${sentence.slice(0, MAX_SUMMARY - 1)}…` : sentence;
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
