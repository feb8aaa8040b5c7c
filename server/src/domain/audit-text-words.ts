import type { AuditEntry } from './audit.js';
import { sameJson } from './audit-revert.js';

/** The words every sentence of audit-text.ts is made of: quoting, counting, lists of changes. */

/** An environment's display name ("Production") from its key; the key when it no longer exists. */
export type EnvironmentName = (key: string) => string;

export type DescribableEntry = Pick<AuditEntry, 'action' | 'resourceType' | 'resourceKey' | 'environment' | 'before' | 'after' | 'source' | 'message' | 'commit'>;

/** Changes named in one sentence before "and N more". */
const MAX_PARTS = 4;
const MAX_QUOTED = 60;

export type Json = Record<string, unknown>;
export const isRecord = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
export const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
export const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);
export const plural = (n: number, word: string, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;
/** A name in quotes, clipped: names are user input of any length. */
export const quote = (value: string) => JSON.stringify(value.length > MAX_QUOTED ? `${value.slice(0, MAX_QUOTED - 1)}…` : value);
export const quoteAll = (values: readonly string[]) => values.map(quote).join(', ');

export function joinParts(parts: readonly string[], separator = ', '): string {
  if (parts.length <= MAX_PARTS) return parts.join(separator);
  return `${parts.slice(0, MAX_PARTS).join(separator)}${separator}and ${parts.length - MAX_PARTS} more`;
}

/** "stage changed" from "flag.stage_changed": the fallback for actions audit-text.ts does not know. */
export function actionWords(action: string): string {
  const verb = action.includes('.') ? action.slice(action.indexOf('.') + 1) : action;
  return verb.replace(/_/g, ' ');
}

/** "#12" from "revert of audit entry #12: comment", the message every revert is stored with. */
export function revertedId(message: string | null): string | undefined {
  return message ? /^revert of audit entry (#\d+)/.exec(message)?.[1] : undefined;
}

/** Added, removed and changed items of a list keyed by `keyOf` (variations, rules). */
export function keyedChanges(before: unknown, after: unknown, noun: string, keyOf: (item: Json) => string | undefined, label: (item: Json) => string = (item) => keyOf(item) ?? ''): string[] {
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

export const ruleLabel = (rule: Json) => text(rule.description) || text(rule.id) || '?';
