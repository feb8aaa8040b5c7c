import { BUCKETS, type ClauseOperator, type ClauseValue, type Rollout, type Rule, type Serve, type Target } from '@switchyard/sdk';
import type { FlagEnvironment } from '../api/types.js';
import { parseIdList } from './dogfood.js';

/**
 * The targeting form: what the user edits (strings in inputs) and its mapping to and from the API.
 * Array positions are kept 1:1 with the API's, so an error at `rules[1].clauses[0].values` from the
 * server lands on the same input.
 */
export interface ClauseDraft {
  attribute: string;
  operator: ClauseOperator;
  /** Comma-separated. */
  values: string;
}

export interface ShareDraft {
  variation: string;
  /** Percent, e.g. "33.333". */
  percent: string;
}

export interface ServeDraft {
  kind: 'variation' | 'rollout';
  variation: string;
  shares: ShareDraft[];
  /** Rollout fields the form does not show, kept as they were. */
  bucketBy?: string;
  salt?: string;
}

export interface RuleDraft {
  id: string;
  description: string;
  clauses: ClauseDraft[];
  serve: ServeDraft;
}

export interface TargetDraft {
  variation: string;
  /** User IDs, comma or newline separated. */
  values: string;
}

export interface PrerequisiteDraft {
  flag: string;
  variation: string;
}

export interface TargetingDraft {
  offVariation: string;
  /** Undefined while the configuration has none and the user added none: the patch then leaves them out. */
  prerequisites?: PrerequisiteDraft[];
  targets: TargetDraft[];
  rules: RuleDraft[];
  defaultServe: ServeDraft;
}

export type TargetingPatch = Pick<FlagEnvironment, 'offVariation' | 'prerequisites' | 'targets' | 'rules' | 'defaultServe'>;

const NUMERIC = new Set<ClauseOperator>(['lt', 'lte', 'gt', 'gte']);

const formatPercent = (weight: number): string => String(Number(((weight * 100) / BUCKETS).toFixed(3)));
/** Percent text → weight in 1/100000 (0.001% steps). NaN stays NaN so the server names the field. */
export const percentToWeight = (percent: string): number => Math.round(Number(percent.trim()) * (BUCKETS / 100));

export function serveToDraft(serve: Serve, fallbackVariation: string): ServeDraft {
  if ('variation' in serve) return { kind: 'variation', variation: serve.variation, shares: [{ variation: serve.variation, percent: '100' }] };
  const r = serve.rollout;
  return {
    kind: 'rollout',
    variation: r.variations[0]?.variation ?? fallbackVariation,
    shares: r.variations.map((v) => ({ variation: v.variation, percent: formatPercent(v.weight) })),
    ...(r.bucketBy === undefined ? {} : { bucketBy: r.bucketBy }),
    ...(r.salt === undefined ? {} : { salt: r.salt }),
  };
}

export function serveFromDraft(draft: ServeDraft): Serve {
  if (draft.kind === 'variation') return { variation: draft.variation };
  const rollout: Rollout = { variations: draft.shares.map((s) => ({ variation: s.variation, weight: percentToWeight(s.percent) })) };
  if (draft.bucketBy !== undefined) rollout.bucketBy = draft.bucketBy;
  if (draft.salt !== undefined) rollout.salt = draft.salt;
  return { rollout };
}

function parseClauseValues(text: string, operator: ClauseOperator): ClauseValue[] {
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (!NUMERIC.has(operator)) return parts;
  return parts.map((p) => (p !== '' && Number.isFinite(Number(p)) ? Number(p) : p));
}

export function toTargetingDraft(config: FlagEnvironment): TargetingDraft {
  const fallback = config.offVariation;
  return {
    offVariation: config.offVariation,
    ...(config.prerequisites?.length ? { prerequisites: config.prerequisites.map((p) => ({ flag: p.flag, variation: p.variation })) } : {}),
    targets: config.targets.map((t) => ({ variation: t.variation, values: t.values.join(', ') })),
    rules: config.rules.map((r) => ({
      id: r.id,
      description: r.description ?? '',
      clauses: r.clauses.map((c) => ({ attribute: c.attribute, operator: c.operator, values: c.values.map(String).join(', ') })),
      serve: serveToDraft(r.serve, fallback),
    })),
    defaultServe: serveToDraft(config.defaultServe, fallback),
  };
}

export function fromTargetingDraft(draft: TargetingDraft): TargetingPatch {
  const targets: Target[] = draft.targets.map((t) => ({ variation: t.variation, values: parseIdList(t.values) }));
  const rules: Rule[] = draft.rules.map((r) => ({
    id: r.id.trim(),
    ...(r.description.trim() === '' ? {} : { description: r.description.trim() }),
    clauses: r.clauses.map((c) => ({ attribute: c.attribute.trim(), operator: c.operator, values: parseClauseValues(c.values, c.operator) })),
    serve: serveFromDraft(r.serve),
  }));
  // Sent as edited ([] clears them); rows without a flag chosen yet are left out.
  const prerequisites = draft.prerequisites?.filter((p) => p.flag !== '').map((p) => ({ flag: p.flag, variation: p.variation }));
  return { offVariation: draft.offVariation, ...(prerequisites ? { prerequisites } : {}), targets, rules, defaultServe: serveFromDraft(draft.defaultServe) };
}

/** A fresh rule id not used yet: rule-1, rule-2, … */
export function newRuleId(rules: readonly { id: string }[]): string {
  const used = new Set(rules.map((r) => r.id));
  let n = rules.length + 1;
  while (used.has(`rule-${n}`)) n++;
  return `rule-${n}`;
}
