import { describeValue, sameJson } from './audit-revert.js';
import { actionWords, isRecord, joinParts, keyedChanges, plural, quote, quoteAll, revertedId, ruleLabel, strings, text, type DescribableEntry, type EnvironmentName, type Json } from './audit-text-words.js';
import type { FlagEnvironment } from './flags.js';
import { DOGFOOD_RULE_ID, deriveStage } from './stages.js';

/** A flag entry as a sentence (audit-text.ts): its own fields, then each environment's targeting in stage words. */

export function flagSentence(entry: DescribableEntry, name: EnvironmentName): string {
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
