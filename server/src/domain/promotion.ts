import { BUCKETS, type Rule, type Serve } from '@switchyard/sdk';
import { sameJson } from './audit-revert.js';
import { AppError } from './errors.js';
import { ownEntry, type Flag, type FlagEnvironment } from './flags.js';
import { describeTargeting, formatPercentage } from './stages.js';

/**
 * Promotion: make one environment's targeting of a flag what another environment's is ("promote
 * staging to production"), as one precise change of the target environment.
 *
 * What moves — the targeting, i.e. who gets which variation:
 *   on, the off variation, individual targets, the rules in order (the dogfood rule among them),
 *   the default rule (variation or weighted rollout, with a rollout's own bucket-by and salt), and
 *   the flag's bucket-by attribute.
 * What stays — state that belongs to the target environment:
 *   `killed` (an incident's kill switch; a promotion never lifts or sets one: a killed source or
 *   target is refused, see `promotionBlockers`), `salt` (the environment's bucketing seed: keeping
 *   it keeps production's rollout population stable, so whoever was inside 10% is still inside at
 *   50% after a promotion), and `guarded` (owned by a running release plan). Release plans and
 *   incident holds live in their own tables and never move.
 *
 * Segments are global (one definition for every environment), so rules refer to the same segments
 * on both sides: only the flag's configuration moves. Variations are the flag's own, so every
 * variation the source serves exists in the target.
 *
 * Pure: the service reads the flag, plans here, and writes `after` through the one write path.
 * A future change request holds exactly a plan's inputs (flag key, from, to, the flag version it
 * was planned against) and applies it the same way.
 */

/** Fields of a configuration that a promotion copies from the source. */
export const PROMOTED_FIELDS = ['on', 'offVariation', 'prerequisites', 'targets', 'rules', 'defaultServe', 'bucketBy'] as const satisfies readonly (keyof FlagEnvironment)[];
/** Fields that stay as the target has them (see the module comment for why). */
export const KEPT_FIELDS = ['killed', 'salt', 'guarded'] as const satisfies readonly (keyof FlagEnvironment)[];
export type PromotedField = (typeof PROMOTED_FIELDS)[number];
export type KeptField = (typeof KEPT_FIELDS)[number];

// Every configuration field is either promoted or kept: a new field must be placed in one list.
type Unplaced = Exclude<keyof FlagEnvironment, PromotedField | KeptField>;
const everyFieldPlaced: [Unplaced] extends [never] ? true : Unplaced = true;
void everyFieldPlaced;

/** One difference the promotion makes in the target, in words. */
export interface PromotionChange {
  field: PromotedField;
  /** `changed` a value, `added`/`removed`/`changed` a rule or targets, `reordered` the rules. */
  kind: 'changed' | 'added' | 'removed' | 'reordered';
  /** What it is about: "On / off", "Default rule", "Rule pro-users", "Targets serving on". */
  label: string;
  /** The target's value now, and after the promotion (absent for an added or removed item). */
  before?: string;
  after?: string;
  /** One readable line: `Default rule: off → 10% on / 90% off`, `+ rule pro-users: if plan in ["pro"] serve on`. */
  text: string;
}

/** A target-only field that differs and stays as it is. */
export interface KeptDifference {
  field: KeptField;
  text: string;
}

export interface PromotionPlan {
  flag: string;
  from: string;
  to: string;
  /** The target's configuration now and after the promotion. */
  before: FlagEnvironment;
  after: FlagEnvironment;
  /** The stage summary of each side of the target ("off" → "dogfood + 1 rule"). */
  stage: { before: string; after: string };
  changes: PromotionChange[];
  kept: KeptDifference[];
  /** Nothing to promote: the target's targeting already is the source's. */
  upToDate: boolean;
  /** The source is killed (its `on: false` is an incident's, not a release to promote). */
  sourceKilled: boolean;
}

const quote = (s: string) => JSON.stringify(s);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const percent = (weight: number) => formatPercentage((weight * 100) / BUCKETS);

/** `on`, or `10% on / 90% off` (with its own bucket-by or salt when it has them). */
export function describeServe(serve: Serve): string {
  if ('variation' in serve) return serve.variation;
  const r = serve.rollout;
  const shares = r.variations.map((v) => `${percent(v.weight)} ${v.variation}`).join(' / ');
  return `${shares}${r.bucketBy !== undefined ? ` by ${r.bucketBy}` : ''}${r.salt !== undefined ? ` (salt ${r.salt})` : ''}`;
}

function describeClause(clause: Rule['clauses'][number]): string {
  const values = clause.values.map((v) => JSON.stringify(v)).join(', ');
  if (clause.operator === 'in_segment') return `in segment ${clause.values.join(', ')}`;
  if (clause.operator === 'not_in_segment') return `not in segment ${clause.values.join(', ')}`;
  return `${clause.attribute} ${clause.operator.replace(/_/g, ' ')} [${values}]`;
}

/** `if plan in ["pro"] and country in ["de"] serve on` */
export function describeRule(rule: Rule): string {
  const condition = rule.clauses.length === 0 ? 'everyone' : rule.clauses.map(describeClause).join(' and ');
  return `if ${condition} serve ${describeServe(rule.serve)}`;
}

const onText = (c: FlagEnvironment) => (c.on ? 'on' : 'off');

/** `checkout is on, payments is v2`, or `none`. */
export const describePrerequisites = (c: FlagEnvironment): string => c.prerequisites?.map((p) => `${p.flag} is ${p.variation}`).join(', ') || 'none';

function ruleChanges(before: readonly Rule[], after: readonly Rule[]): PromotionChange[] {
  const changes: PromotionChange[] = [];
  const was = new Map(before.map((r) => [r.id, r]));
  const is = new Map(after.map((r) => [r.id, r]));
  for (const rule of after) {
    const old = was.get(rule.id);
    const label = `Rule ${rule.id}`;
    if (!old) changes.push({ field: 'rules', kind: 'added', label, after: describeRule(rule), text: `+ rule ${rule.id}: ${describeRule(rule)}` });
    else if (!sameJson(old, rule)) {
      const [b, a] = [describeRule(old), describeRule(rule)];
      // The same words but different rules: the description changed.
      const [shownB, shownA] = b === a ? [old.description ?? '(no description)', rule.description ?? '(no description)'] : [b, a];
      changes.push({ field: 'rules', kind: 'changed', label, before: shownB, after: shownA, text: `~ rule ${rule.id}: ${shownB} → ${shownA}` });
    }
  }
  for (const rule of before) {
    if (!is.has(rule.id)) changes.push({ field: 'rules', kind: 'removed', label: `Rule ${rule.id}`, before: describeRule(rule), text: `- rule ${rule.id}: ${describeRule(rule)}` });
  }
  // Rules kept on both sides but in another order: the first match wins, so the order matters.
  const common = (list: readonly Rule[], other: Map<string, Rule>) => list.filter((r) => other.has(r.id)).map((r) => r.id);
  const [orderBefore, orderAfter] = [common(before, is), common(after, was)];
  if (!sameJson(orderBefore, orderAfter)) {
    changes.push({ field: 'rules', kind: 'reordered', label: 'Rule order', before: orderBefore.join(', '), after: orderAfter.join(', '), text: `Rule order: ${orderBefore.join(', ')} → ${orderAfter.join(', ')}` });
  }
  return changes;
}

function targetChanges(before: FlagEnvironment['targets'], after: FlagEnvironment['targets']): PromotionChange[] {
  const byVariation = (targets: FlagEnvironment['targets']) => {
    const map = new Map<string, string[]>();
    for (const t of targets) map.set(t.variation, [...(map.get(t.variation) ?? []), ...t.values]);
    return map;
  };
  const was = byVariation(before);
  const is = byVariation(after);
  const changes: PromotionChange[] = [];
  for (const variation of new Set([...is.keys(), ...was.keys()])) {
    const from = was.get(variation) ?? [];
    const to = is.get(variation) ?? [];
    const added = to.filter((v) => !from.includes(v));
    const removed = from.filter((v) => !to.includes(v));
    if (added.length === 0 && removed.length === 0) continue;
    const label = `Targets serving ${variation}`;
    const parts = [added.length > 0 ? `+ ${added.join(', ')}` : '', removed.length > 0 ? `- ${removed.join(', ')}` : ''].filter(Boolean);
    const list = (ids: string[]) => (ids.length === 0 ? 'nobody' : ids.join(', '));
    changes.push({ field: 'targets', kind: from.length === 0 ? 'added' : to.length === 0 ? 'removed' : 'changed', label, before: list(from), after: list(to), text: `${label}: ${parts.join('; ')}` });
  }
  // Same users per variation in another order (or split across entries): still a stored difference.
  if (changes.length === 0 && !sameJson(before, after)) {
    changes.push({ field: 'targets', kind: 'changed', label: 'Individual targets', text: 'Individual targets: same users, listed in another order' });
  }
  return changes;
}

function valueChange(field: PromotedField, label: string, before: string, after: string): PromotionChange {
  return { field, kind: 'changed', label, before, after, text: `${label}: ${before} → ${after}` };
}

/** The configuration of `flag` in `environment`; 404 naming the environment when it has none. */
function configOf(flag: Pick<Flag, 'environments'>, environment: string): FlagEnvironment {
  const config = ownEntry(flag.environments, environment);
  if (!config) throw AppError.notFound('environment', environment);
  return config;
}

/**
 * What promoting `flag`'s targeting from environment `from` to `to` changes in `to`: its
 * configuration before and after, each difference in words, the target-only fields that differ and
 * stay, and whether there is nothing to promote. 400 when `from` and `to` are the same; 404 for an
 * environment the flag has no configuration in (every flag has one in every environment).
 */
export function planPromotion(flag: Pick<Flag, 'key' | 'environments'>, from: string, to: string): PromotionPlan {
  if (from === to) throw AppError.invalid('body.to', `"${to}" is also the environment to promote from: choose two different environments`);
  const source = configOf(flag, from);
  const before = configOf(flag, to);
  const after: FlagEnvironment = { ...before };
  for (const field of PROMOTED_FIELDS) (after as Record<PromotedField, unknown>)[field] = structuredClone(source[field]);
  // No prerequisites is written as none at all, as a configuration from before they existed.
  if (!after.prerequisites?.length) delete after.prerequisites;

  const changes: PromotionChange[] = [];
  if (before.on !== after.on) changes.push(valueChange('on', 'On / off', onText(before), onText(after)));
  if (!sameJson(before.defaultServe, after.defaultServe)) changes.push(valueChange('defaultServe', 'Default rule', describeServe(before.defaultServe), describeServe(after.defaultServe)));
  changes.push(...ruleChanges(before.rules, after.rules));
  changes.push(...targetChanges(before.targets, after.targets));
  if (before.offVariation !== after.offVariation) changes.push(valueChange('offVariation', 'Off variation', before.offVariation, after.offVariation));
  if (describePrerequisites(before) !== describePrerequisites(after)) changes.push(valueChange('prerequisites', 'Prerequisites', describePrerequisites(before), describePrerequisites(after)));
  if (before.bucketBy !== after.bucketBy) changes.push(valueChange('bucketBy', 'Bucket by', before.bucketBy, after.bucketBy));

  const kept: KeptDifference[] = [];
  if (source.salt !== before.salt) kept.push({ field: 'salt', text: `Salt stays ${quote(before.salt)} (${from} uses ${quote(source.salt)}): ${to}'s users keep their rollout buckets` });
  if (source.killed !== before.killed) kept.push({ field: 'killed', text: `Kill switch stays ${before.killed ? 'on' : 'off'} in ${to}` });
  if ((source.guarded ?? false) !== (before.guarded ?? false)) kept.push({ field: 'guarded', text: `Release guard marker stays ${before.guarded ? 'on' : 'off'} in ${to} (it belongs to ${to}'s release plan)` });

  const upToDate = PROMOTED_FIELDS.every((field) => (field === 'prerequisites' ? describePrerequisites(before) === describePrerequisites(after) : sameJson(before[field], after[field])));
  return {
    flag: flag.key,
    from,
    to,
    before,
    after,
    stage: { before: describeTargeting(before).summary, after: describeTargeting(after).summary },
    changes,
    kept,
    upToDate,
    sourceKilled: source.killed,
  };
}

/** A few words for a list of flags: "off → 10%, 2 rules added, individual targets". Empty when nothing differs. */
export function promotionSummary(plan: PromotionPlan): string {
  if (plan.upToDate) return '';
  const parts: string[] = [];
  if (plan.stage.before !== plan.stage.after) parts.push(`${plan.stage.before} → ${plan.stage.after}`);
  for (const kind of ['added', 'removed', 'changed'] as const) {
    const rules = plan.changes.filter((c) => c.field === 'rules' && c.kind === kind).length;
    if (rules > 0) parts.push(`${plural(rules, 'rule')} ${kind}`);
  }
  if (plan.changes.some((c) => c.kind === 'reordered')) parts.push('rule order');
  if (plan.changes.some((c) => c.field === 'targets')) parts.push('individual targets');
  for (const change of plan.changes) {
    if (change.field === 'offVariation' || change.field === 'bucketBy' || change.field === 'prerequisites') parts.push(change.label.toLowerCase());
  }
  // A difference the stage words do not show (a split's weights inside "custom").
  if (parts.length === 0) parts.push(...plan.changes.map((c) => c.label.toLowerCase()));
  return parts.join(', ');
}

/** Why a promotion cannot be made now; each names the way out. */
export interface PromotionBlocker {
  code: 'managed_by_git' | 'source_killed' | 'target_killed' | 'release_running';
  message: string;
}

export interface PromotionContext {
  /** The Git file that manages the flag, or null. */
  managedBy: string | null;
  /** The target's release plan when one is running (its step, for the message). */
  runningPlan: { currentStep: number; steps: number; percentage: number | undefined } | null;
  /** Display names ("Production"), keys when unknown. */
  name: (environment: string) => string;
}

/**
 * What stands in the way of applying `plan` (empty: it can be applied). A killed target is an
 * incident: a promotion must not silently lift it (nor move new targeting in under it), so it is
 * refused until someone ends the kill. A killed source has nothing released to promote. A running
 * release plan owns the target's ramp: pause or abort it first (as the plan's page says a manual
 * stage move would pause it). A Git-managed flag changes in its file.
 */
export function promotionBlockers(flag: Pick<Flag, 'key'>, plan: PromotionPlan, context: PromotionContext): PromotionBlocker[] {
  const { name } = context;
  const [from, to] = [name(plan.from), name(plan.to)];
  const blockers: PromotionBlocker[] = [];
  if (context.managedBy !== null) {
    blockers.push({ code: 'managed_by_git', message: `flag "${flag.key}" is managed by Git (${context.managedBy}); change it there and commit, the server applies it` });
  }
  if (plan.before.killed) {
    blockers.push({ code: 'target_killed', message: `flag "${flag.key}" is killed in ${to}: a promotion does not lift a kill. End it first (move it to a stage, or resume it if Git manages it), then promote` });
  }
  if (plan.sourceKilled) {
    blockers.push({ code: 'source_killed', message: `flag "${flag.key}" is killed in ${from}: there is no released targeting to promote until the kill there ends` });
  }
  const running = context.runningPlan;
  if (running) {
    const at = running.percentage !== undefined ? ` at ${formatPercentage(running.percentage)}` : '';
    blockers.push({
      code: 'release_running',
      message: `a release plan is running for "${flag.key}" in ${to} (step ${running.currentStep + 1} of ${running.steps}${at}); pause or abort it before promoting ${from}'s targeting over it`,
    });
  }
  return blockers;
}
