import { BUCKETS, type Rule, type Serve } from '@switchyard/sdk';
import type { Environment, Flag, FlagEnvironment } from '../api/types.js';
import { describeClause } from './segment-form.js';

/**
 * Comparing one flag's targeting in two environments, row by row: the state (on, stage, kill,
 * dogfood), the default rule with its rollout percentages, individual targets, and the rules in
 * order. Each cell is a few lines of text; a row differs when its lines do.
 */
export type CompareSection = 'State' | 'Individual targets' | 'Rules (first match wins)' | 'Everyone else';

export interface CompareRow {
  /** Stable and unique within the comparison. */
  id: string;
  section: CompareSection;
  label: string;
  /** The cell's lines; undefined: the environment has no such thing (a rule only one side has). */
  a: string[] | undefined;
  b: string[] | undefined;
  differs: boolean;
  /** Rule rows: the rule's position (0 = first) per side, shown beside it but not compared (LCS alignment shows reorders). */
  position?: { a?: number; b?: number };
  /** The stage row: the raw stage and summary per side, for badges. */
  stage?: { a?: { stage: string; summary?: string }; b?: { stage: string; summary?: string } };
}

export const DOGFOOD_RULE_ID = 'dogfood';
export const DOGFOOD_SEGMENT = 'internal';

const percent = (weight: number): string => `${Number(((weight * 100) / BUCKETS).toFixed(3))}%`;

/** `on`, or `10% on / 90% off` (with its own bucket-by or salt when it has them). */
export function describeServe(serve: Serve): string {
  if ('variation' in serve) return serve.variation;
  const r = serve.rollout;
  const shares = r.variations.map((v) => `${percent(v.weight)} ${v.variation}`).join(' / ');
  return [shares, r.bucketBy === undefined ? '' : ` by ${r.bucketBy}`, r.salt === undefined ? '' : ` (salt ${r.salt})`].join('');
}

/** The rollout percentages of the default rule: who gets what, everyone else included. */
export function describeRollout(serve: Serve): string {
  if ('variation' in serve) return `100% ${serve.variation}`;
  return describeServe(serve);
}

function isDogfoodRule(rule: Rule): boolean {
  const clause = rule.clauses[0];
  return rule.id === DOGFOOD_RULE_ID && rule.clauses.length === 1 && clause?.operator === 'in_segment' && clause.values.length === 1 && clause.values[0] === DOGFOOD_SEGMENT;
}

function dogfoodText(config: FlagEnvironment): string {
  const rule = config.rules.find(isDogfoodRule);
  if (!rule) return 'no dogfood rule';
  const serves = describeServe(rule.serve);
  return 'variation' in rule.serve && rule.serve.variation === config.offVariation ? `dogfood rule serves the off variation (${serves})` : `internal users get ${serves}`;
}

export function describeRule(rule: Rule): string[] {
  return [
    `${rule.id}${rule.description ? ` — ${rule.description}` : ''}`,
    ...(rule.clauses.length === 0 ? ['if: everyone'] : rule.clauses.map((c, i) => `${i === 0 ? 'if' : 'and'} ${describeClause(c)}`)),
    `serve ${describeServe(rule.serve)}`,
  ];
}

/**
 * Pairs of positions matching rules by id in order (a longest common subsequence), with the rules
 * only one side has in between: a rule added on one side does not make every rule after it "differ".
 */
export function alignRules(a: readonly { id: string }[], b: readonly { id: string }[]): [number | undefined, number | undefined][] {
  const n = a.length;
  const m = b.length;
  const table: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      table[i]![j] = a[i]!.id === b[j]!.id ? table[i + 1]![j + 1]! + 1 : Math.max(table[i + 1]![j]!, table[i]![j + 1]!);
    }
  }
  const pairs: [number | undefined, number | undefined][] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i]!.id === b[j]!.id) pairs.push([i++, j++]);
    else if (j >= m || (i < n && table[i + 1]![j]! >= table[i]![j + 1]!)) pairs.push([i++, undefined]);
    else pairs.push([undefined, j++]);
  }
  return pairs;
}

const same = (x: string[] | undefined, y: string[] | undefined) => JSON.stringify(x) === JSON.stringify(y);

function row(id: string, section: CompareSection, label: string, a: string[] | undefined, b: string[] | undefined): CompareRow {
  return { id, section, label, a, b, differs: !same(a, b) };
}

const onText = (c: FlagEnvironment) => (c.on ? 'on' : 'off');
const killedText = (c: FlagEnvironment) => (c.killed ? `killed${c.killedFrom ? ` (was ${c.killedFrom})` : ''}` : 'not killed');
const stageText = (c: FlagEnvironment) => (c.stageSummary && c.stageSummary !== c.stage ? `${c.stage}: ${c.stageSummary}` : c.stage);

/** Every row of the comparison of `flag` in environments `a` and `b` (a missing configuration shows as absent). */
export function compareEnvironments(flag: Flag, a: string, b: string): CompareRow[] {
  const ca = Object.hasOwn(flag.environments, a) ? flag.environments[a] : undefined;
  const cb = Object.hasOwn(flag.environments, b) ? flag.environments[b] : undefined;
  const both = <T,>(f: (c: FlagEnvironment) => T): [T | undefined, T | undefined] => [ca && f(ca), cb && f(cb)];
  const lines = (f: (c: FlagEnvironment) => string) => both((c) => [f(c)]);

  const stageRow = row('stage', 'State', 'Stage', ...lines(stageText));
  stageRow.stage = { ...(ca ? { a: { stage: ca.stage, summary: ca.stageSummary } } : {}), ...(cb ? { b: { stage: cb.stage, summary: cb.stageSummary } } : {}) };
  const rows: CompareRow[] = [
    row('on', 'State', 'On / off', ...lines(onText)),
    stageRow,
    row('killed', 'State', 'Kill switch', ...lines(killedText)),
    row('dogfood', 'State', 'Dogfood', ...lines(dogfoodText)),
    row('rollout', 'Everyone else', 'Default rule (rollout)', ...lines((c) => describeRollout(c.defaultServe))),
    row('off-variation', 'Everyone else', 'Off variation (when off or killed)', ...lines((c) => c.offVariation)),
    row('bucketing', 'Everyone else', 'Bucket by / salt', ...lines((c) => `${c.bucketBy} / ${c.salt}`)),
  ];

  const variations = [...new Set([...(ca?.targets ?? []), ...(cb?.targets ?? [])].map((t) => t.variation))];
  const targetsOf = (c: FlagEnvironment | undefined, variation: string): string[] | undefined => {
    if (!c) return undefined;
    const ids = c.targets.filter((t) => t.variation === variation).flatMap((t) => t.values);
    return [ids.length === 0 ? 'nobody' : ids.join(', ')];
  };
  for (const v of variations) rows.push(row(`target:${v}`, 'Individual targets', `Serve ${v} to`, targetsOf(ca, v), targetsOf(cb, v)));
  if (variations.length === 0) rows.push(row('targets', 'Individual targets', 'Individual targets', ...lines(() => 'none')));

  const ra = ca?.rules ?? [];
  const rb = cb?.rules ?? [];
  const seen = new Map<string, number>();
  for (const [i, j] of alignRules(ra, rb)) {
    const ruleA = i === undefined ? undefined : ra[i];
    const ruleB = j === undefined ? undefined : rb[j];
    const id = (ruleA ?? ruleB)!.id;
    const n = seen.get(id) ?? 0;
    seen.set(id, n + 1);
    const label = ruleA && ruleB ? `Rule ${id}` : `Rule ${id} (only in ${ruleA ? a : b})`;
    const ruleRow = row(`rule:${id}:${n}`, 'Rules (first match wins)', label, ruleA && describeRule(ruleA), ruleB && describeRule(ruleB));
    ruleRow.position = { ...(i === undefined ? {} : { a: i }), ...(j === undefined ? {} : { b: j }) };
    rows.push(ruleRow);
  }
  if (ra.length === 0 && rb.length === 0) rows.push(row('rules', 'Rules (first match wins)', 'Rules', ...lines(() => 'no rules')));
  return rows;
}

/**
 * The compare page's URL (`/compare?flag=checkout&a=staging&b=production`): the pickers write it
 * and a link or a reload reads it back.
 */
export interface CompareSelection {
  flag: string;
  a: string;
  b: string;
}

export function compareUrl(s: CompareSelection): string {
  const params = new URLSearchParams();
  if (s.flag) params.set('flag', s.flag);
  if (s.a) params.set('a', s.a);
  if (s.b) params.set('b', s.b);
  const query = params.toString();
  return `/compare${query ? `?${query}` : ''}`;
}

/**
 * The selection a URL asks for, with defaults for what it leaves out: compare against the first
 * critical environment (production) and the one before it (staging).
 */
export function readCompareSelection(search: string, environments: readonly Pick<Environment, 'key' | 'critical'>[]): CompareSelection {
  const params = new URLSearchParams(search);
  const keys = environments.map((e) => e.key);
  const critical = environments.find((e) => e.critical)?.key ?? keys[keys.length - 1] ?? '';
  const b = params.get('b')?.trim() || (params.get('a')?.trim() === critical ? (keys.find((k) => k !== critical) ?? critical) : critical);
  const a = params.get('a')?.trim() || (keys[keys.indexOf(b) - 1] ?? keys.find((k) => k !== b) ?? b);
  return { flag: params.get('flag')?.trim() ?? '', a, b };
}

/**
 * Promotion (`GET/POST /api/flags/{key}/promote`): the server's preview of making B's targeting
 * what A's is. Shapes kept to what the compare page shows.
 */
export interface PromotionChange {
  field: string;
  kind: 'changed' | 'added' | 'removed' | 'reordered';
  label: string;
  before?: string;
  after?: string;
  text: string;
}

export interface PromotionPreview {
  flag: string;
  version: number;
  managedBy: string | null;
  from: { key: string; name: string; critical: boolean };
  to: { key: string; name: string; critical: boolean };
  upToDate: boolean;
  summary: string;
  stage: { before: string; after: string };
  changes: PromotionChange[];
  kept: { field: string; text: string }[];
  blockers: { code: string; message: string }[];
}

export function promotionUrl(flag: string, from: string, to: string): string {
  return `/api/flags/${encodeURIComponent(flag)}/promote?${new URLSearchParams({ from, to }).toString()}`;
}

/**
 * Why the Promote button is disabled, or undefined when it may be pressed: the viewer's role (and a
 * Git-managed flag) come first, then what the preview says — nothing to promote, or what would
 * refuse it (a kill, a running release plan).
 */
export function promoteDisabledReason(preview: PromotionPreview | undefined, selection: CompareSelection, rightsReason: string | undefined): string | undefined {
  if (rightsReason) return rightsReason;
  if (selection.a === selection.b) return 'Choose two different environments to promote between.';
  if (!preview) return 'Loading what the promotion would change…';
  if (preview.upToDate) return `${preview.to.name} already has ${preview.from.name}'s targeting: nothing to promote.`;
  const blocker = preview.blockers[0];
  if (blocker) return `${blocker.message.charAt(0).toUpperCase()}${blocker.message.slice(1)}.`;
  return undefined;
}

/** The button's words: "Promote Staging → Production". */
export function promoteLabel(from: string, to: string): string {
  return `Promote ${from} → ${to}`;
}
