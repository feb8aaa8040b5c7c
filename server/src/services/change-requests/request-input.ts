import { resourceOf, type ChangeSpec, type ProposedChange } from '../../domain/change-requests.js';
import { AppError } from '../../domain/errors.js';
import { matchesPatterns } from '../../domain/flag-validation.js';
import { assertSafePatterns } from '../pattern-safety.js';

export interface NewRequestInput {
  title: string;
  description?: string;
  environment: string;
  changes: ProposedChange[];
}

/** The request's changes with their environments filled in and checked. */
export function normalize(input: NewRequestInput): ChangeSpec[] {
  const bases = new Map<string, number>();
  return input.changes.map((change, i) => {
    const path = `body.changes.${i}`;
    if (change.type === 'stage' && change.stage.trim() === 'kill') {
      throw AppError.invalid(`${path}.stage`, 'the kill switch never needs a change request: use POST /api/flags/{key}/environments/{env}/kill');
    }
    if (change.type !== 'segment' && change.environment !== undefined && change.environment !== input.environment) {
      throw AppError.invalid(`${path}.environment`, `"${change.environment}" is not the request's environment (${input.environment}); one request changes one environment (make one request per environment)`);
    }
    const resource = resourceOf(change);
    const base = bases.get(resource);
    if (base !== undefined && base !== change.baseVersion) {
      throw AppError.invalid(`${path}.baseVersion`, `${resource.replace(':', ' "')}" appears twice with different base versions (${base} and ${change.baseVersion}); changes to one resource are made against the version you read`);
    }
    bases.set(resource, change.baseVersion);
    if (change.type === 'segment') return change;
    return { ...change, environment: input.environment };
  });
}

export async function checkPatterns(specs: readonly ChangeSpec[]): Promise<void> {
  await assertSafePatterns(
    specs.flatMap((c, i) => {
      if (c.type === 'targeting' && c.config.rules) return matchesPatterns(c.config.rules, `body.changes.${i}.config.`);
      if (c.type === 'segment' && c.patch.rules) return matchesPatterns(c.patch.rules, `body.changes.${i}.patch.`);
      return [];
    }),
  );
}
