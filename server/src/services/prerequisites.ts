import { AppError } from '../domain/errors.js';
import { assertNoProblems } from '../domain/flag-validation.js';
import { ownEntry, type Flag } from '../domain/flags.js';
import { brokenDependents, dependentsMessage, prerequisiteProblems, type CheckedFlag, type GraphFlag } from '../domain/prerequisites.js';
import type { Repositories, Tx } from '../store/ports.js';

/** What a write did to flags, for the prerequisite check that runs after it (in its transaction). */
export interface PrerequisiteCheck {
  /** Flags saved, whose prerequisites in these environments must hold (400, naming the path). */
  checked?: readonly CheckedFlag[];
  /** Flags deleted, archived, or whose variations changed: no other flag may still require them as they were (409). */
  affected?: readonly string[];
}

const variationKeys = (flag: Pick<Flag, 'variations'>) => flag.variations.map((v) => v.key).join('\0');

/**
 * What to check after a flag went from `before` to `after` (null: absent): the environments whose
 * prerequisites changed (all of them when the flag is created or restored from the archive), and
 * the flag itself as `affected` when it was deleted, archived or its variation keys changed.
 * Nothing when neither applies, so most writes pay nothing.
 */
export function prerequisiteCheck(before: Flag | null, after: Flag | null, path: (environment: string) => string = (env) => `environments.${env}`): PrerequisiteCheck {
  const check: { checked?: CheckedFlag[]; affected?: string[] } = {};
  if (after !== null && !after.archived) {
    const whole = before === null || before.archived;
    const environments = Object.entries(after.environments)
      .filter(([env, config]) => (config.prerequisites?.length ?? 0) > 0 && (whole || JSON.stringify(ownEntry(before.environments, env)?.prerequisites ?? []) !== JSON.stringify(config.prerequisites)))
      .map(([env]) => env);
    if (environments.length > 0) check.checked = [{ key: after.key, environments, path }];
  }
  if (before !== null && !before.archived && (after === null || after.archived || variationKeys(before) !== variationKeys(after))) check.affected = [before.key];
  return check;
}

/**
 * Run after the write's rows are written, inside its transaction: the check sees the state the
 * write leaves. The change feed's lock is taken first, so two writes that each pass alone (one
 * adds a prerequisite on a flag the other deletes, or each adds half of a cycle) run one after the
 * other and the second sees the first (PostgreSQL; SQLite serialises writes anyway).
 */
export async function assertPrerequisites(repos: Repositories, tx: Tx, check: PrerequisiteCheck): Promise<void> {
  const checked = check.checked ?? [];
  const affected = check.affected ?? [];
  if (checked.length === 0 && affected.length === 0) return;
  await repos.feed.lock(tx);
  const all = new Map<string, GraphFlag>((await repos.flags.list(tx)).map((f) => [f.value.key, f.value]));
  assertNoProblems(prerequisiteProblems(all, checked));
  if (affected.length === 0) return;
  const broken = brokenDependents(all, new Set(affected));
  if (broken.length > 0) throw new AppError('conflict', dependentsMessage(broken), { dependents: broken });
}
