import type { ClauseOperator, ClauseValue } from '@switchyard/sdk';
import { CLAUSE_OPERATORS } from '@switchyard/sdk/ruleset';
import type { ErrorDetail, Segment, SegmentRule } from '../api/types.js';
import { EMAIL_ATTRIBUTE, EMAIL_RULE_ID, normaliseDomain, parseIdList } from './dogfood.js';
import { relativePath, type FieldErrors } from './field-errors.js';

/**
 * The segment form: what the user edits (text in inputs) and its mapping to and from the API.
 * Email domains are the same `email-domains` rule the dogfood editor writes (`email ends_with
 * @domain`), kept last so the other rules keep their API positions and a server error at
 * `rules[1].clauses[0].values` lands on the same input.
 */
export interface SegmentClauseDraft {
  attribute: string;
  operator: ClauseOperator;
  /** Comma-separated. */
  values: string;
}

export interface SegmentRuleDraft {
  id: string;
  clauses: SegmentClauseDraft[];
}

export interface SegmentDraft {
  key: string;
  name: string;
  description: string;
  unitAttribute: string;
  /** User IDs (members), comma, space or new line separated. */
  included: string;
  excluded: string;
  /** Email domains, e.g. "example.com, corp.example". */
  emailDomains: string;
  rules: SegmentRuleDraft[];
}

/** The operators a segment rule may use: segments cannot refer to segments. */
export const SEGMENT_RULE_OPERATORS: readonly ClauseOperator[] = CLAUSE_OPERATORS.filter((op) => op !== 'in_segment' && op !== 'not_in_segment');

const NUMERIC = new Set<ClauseOperator>(['lt', 'lte', 'gt', 'gte']);

export const emptySegmentDraft = (): SegmentDraft => ({ key: '', name: '', description: '', unitAttribute: 'userId', included: '', excluded: '', emailDomains: '', rules: [] });

/** Whether a rule is the email-domain rule this form shows as a list of domains (and not a hand-made rule that shares its id). */
function isEmailRule(rule: SegmentRule): boolean {
  const clause = rule.clauses[0];
  return rule.id === EMAIL_RULE_ID && rule.clauses.length === 1 && clause !== undefined && clause.attribute === EMAIL_ATTRIBUTE && clause.operator === 'ends_with';
}

export function toSegmentDraft(segment: Segment): SegmentDraft {
  const email = segment.rules.find(isEmailRule);
  return {
    key: segment.key,
    name: segment.name,
    description: segment.description,
    unitAttribute: segment.unitAttribute,
    included: segment.included.join(', '),
    excluded: segment.excluded.join(', '),
    emailDomains: (email?.clauses[0]?.values ?? []).map((v) => String(v).replace(/^@/, '')).join(', '),
    rules: segment.rules
      .filter((r) => r !== email)
      .map((r) => ({ id: r.id, clauses: r.clauses.map((c) => ({ attribute: c.attribute, operator: c.operator, values: c.values.map(String).join(', ') })) })),
  };
}

function parseClauseValues(text: string, operator: ClauseOperator): ClauseValue[] {
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  // A non-number stays text, so the server names the field instead of the form guessing.
  return NUMERIC.has(operator) ? parts.map((p) => (Number.isFinite(Number(p)) ? Number(p) : p)) : parts;
}

/** The body's fields (POST without `version`; PATCH adds it), or the domain the form cannot read. */
export type SegmentBody = Omit<Segment, 'version' | 'updatedAt' | 'updatedBy'>;

export function fromSegmentDraft(draft: SegmentDraft): { body: SegmentBody } | { error: ErrorDetail } {
  const domains: string[] = [];
  for (const text of draft.emailDomains.split(/[\s,]+/).filter(Boolean)) {
    const parsed = normaliseDomain(text);
    if ('error' in parsed) return { error: { path: 'emailDomains', message: parsed.error } };
    if (!domains.includes(parsed.domain)) domains.push(parsed.domain);
  }
  const rules: SegmentRule[] = draft.rules.map((r) => ({
    id: r.id.trim(),
    clauses: r.clauses.map((c) => ({ attribute: c.attribute.trim(), operator: c.operator, values: parseClauseValues(c.values, c.operator) })),
  }));
  if (domains.length > 0) rules.push({ id: EMAIL_RULE_ID, clauses: [{ attribute: EMAIL_ATTRIBUTE, operator: 'ends_with', values: domains }] });
  return {
    body: {
      key: draft.key.trim(),
      name: draft.name.trim(),
      description: draft.description.trim(),
      unitAttribute: draft.unitAttribute.trim(),
      included: parseIdList(draft.included),
      excluded: parseIdList(draft.excluded),
      rules,
    },
  };
}

/**
 * The API's validation errors keyed by form field. An error inside the email-domain rule (the one
 * after the form's own rules) belongs to the email-domains field.
 */
export function segmentFieldErrors(details: readonly ErrorDetail[], ruleCount: number): FieldErrors {
  const map = new Map<string, string[]>();
  const emailRule = `rules[${ruleCount}]`;
  for (const d of details) {
    let path = relativePath(d.path);
    if (path === emailRule || path.startsWith(emailRule + '.')) path = 'emailDomains';
    map.set(path, [...(map.get(path) ?? []), d.message]);
  }
  return map;
}

/** A fresh rule id not used yet: rule-1, rule-2, … */
export function newSegmentRuleId(rules: readonly { id: string }[]): string {
  const used = new Set(rules.map((r) => r.id));
  let n = rules.length + 1;
  while (used.has(`rule-${n}`)) n++;
  return `rule-${n}`;
}

/** Readable: `email ends with @corp.example`, `plan in pro, team`. */
export function describeClause(clause: { attribute: string; operator: ClauseOperator; values: readonly ClauseValue[] }): string {
  const values = clause.values.map(String).join(', ');
  if (clause.operator === 'in_segment') return `in segment ${values}`;
  if (clause.operator === 'not_in_segment') return `not in segment ${values}`;
  return `${clause.attribute} ${clause.operator.replace(/_/g, ' ')} ${values}`;
}
