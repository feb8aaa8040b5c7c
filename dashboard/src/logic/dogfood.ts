import type { SegmentRule } from '../api/types.js';

/** The internal segment's email-domain rule: `email ends_with @domain` (any of the listed domains). */
export const EMAIL_RULE_ID = 'email-domains';
export const EMAIL_ATTRIBUTE = 'email';

const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** `Example.com`, `@example.com` → `@example.com`; anything that is not a domain → an error. */
export function normaliseDomain(input: string): { domain: string } | { error: string } {
  const text = input.trim().toLowerCase().replace(/^@/, '');
  if (!DOMAIN.test(text)) return { error: `"${input.trim()}" is not an email domain such as example.com` };
  return { domain: `@${text}` };
}

export function emailDomains(rules: readonly SegmentRule[]): string[] {
  const rule = rules.find((r) => r.id === EMAIL_RULE_ID);
  const clause = rule?.clauses[0];
  if (!clause || clause.operator !== 'ends_with') return [];
  return clause.values.map(String);
}

/** The segment's rules with the email-domain rule replaced (or removed when no domain is left). */
export function withEmailDomains(rules: readonly SegmentRule[], domains: readonly string[]): SegmentRule[] {
  const others = rules.filter((r) => r.id !== EMAIL_RULE_ID);
  if (domains.length === 0) return others;
  return [...others, { id: EMAIL_RULE_ID, clauses: [{ attribute: EMAIL_ATTRIBUTE, operator: 'ends_with', values: [...domains] }] }];
}

/** User IDs typed as a list (commas, spaces or new lines), trimmed and de-duplicated. */
export function parseIdList(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean))];
}
