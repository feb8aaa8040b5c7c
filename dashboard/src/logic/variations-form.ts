import type { FlagType, JsonValue } from '@switchyard/sdk';
import type { ErrorDetail, Variation } from '../api/types.js';

/** A variation row: its value is edited as text (a string as is; numbers, booleans and JSON as JSON). */
export interface VariationDraft {
  key: string;
  name: string;
  value: string;
}

export function toVariationDrafts(type: FlagType, variations: readonly Variation[]): VariationDraft[] {
  return variations.map((v) => ({ key: v.key, name: v.name ?? '', value: type === 'string' && typeof v.value === 'string' ? v.value : JSON.stringify(v.value) }));
}

/** Rows → API variations, or client-side errors at the same paths the API would use. */
export function fromVariationDrafts(type: FlagType, drafts: readonly VariationDraft[]): { variations: Variation[] } | { errors: ErrorDetail[] } {
  const errors: ErrorDetail[] = [];
  const variations = drafts.map((d, i): Variation => {
    let value: JsonValue = d.value;
    if (type !== 'string') {
      try {
        value = JSON.parse(d.value) as JsonValue;
      } catch {
        errors.push({ path: `variations[${i}].value`, message: type === 'json' ? 'not valid JSON' : `not a ${type}` });
      }
    }
    return { key: d.key.trim(), value, ...(d.name.trim() === '' ? {} : { name: d.name.trim() }) };
  });
  return errors.length > 0 ? { errors } : { variations };
}

/** Default variations for a new flag of each type. */
export function defaultVariations(type: FlagType): VariationDraft[] {
  switch (type) {
    case 'boolean':
      return [
        { key: 'off', name: '', value: 'false' },
        { key: 'on', name: '', value: 'true' },
      ];
    case 'string':
      return [
        { key: 'control', name: '', value: 'control' },
        { key: 'treatment', name: '', value: 'treatment' },
      ];
    case 'number':
      return [
        { key: 'low', name: '', value: '0' },
        { key: 'high', name: '', value: '1' },
      ];
    case 'json':
      return [
        { key: 'control', name: '', value: '{}' },
        { key: 'treatment', name: '', value: '{"enabled":true}' },
      ];
  }
}
