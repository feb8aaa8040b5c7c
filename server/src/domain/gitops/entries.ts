import type { Flag, FlagEnvironment } from '../flags.js';
import { defaultFlagEnvironment } from '../flag-defaults.js';
import { DOGFOOD_SEGMENT, applyStage, deriveStage, parseStage, releaseVariation } from '../stages.js';
import { sameValue, sortKeys } from './canonical.js';
import type { FlagEnvironmentEntry, StageEntry } from './schema.js';

/**
 * A flag environment in a file is either a stage (`stage: 10%`) or full targeting. A stage means
 * exactly what the same stage change in the dashboard means when applied to a fresh flag.
 */

export type FlagShape = Pick<Flag, 'key' | 'type' | 'variations'>;

const DEFAULT_BUCKET_BY = 'userId';

export interface EntryProblem {
  /** Relative to the environment entry. */
  path: PropertyKey[];
  message: string;
}

/** `prerequisites: []` is stored as no prerequisites, so a file and the API's configuration compare equal. */
export function withoutEmptyPrerequisites(config: FlagEnvironment): FlagEnvironment {
  if (config.prerequisites === undefined || config.prerequisites.length > 0) return config;
  const { prerequisites: _none, ...rest } = config;
  return rest;
}

export function isStageEntry(entry: FlagEnvironmentEntry): entry is StageEntry {
  return 'stage' in entry;
}

/** The full configuration an entry stands for, or the problems that stop it. */
export function expandEntry(flag: FlagShape, entry: FlagEnvironmentEntry, segmentExists: (key: string) => boolean): { config?: FlagEnvironment; problems: EntryProblem[] } {
  if (!isStageEntry(entry)) return { config: withoutEmptyPrerequisites(entry), problems: [] };
  const stage = parseStage(entry.stage);
  if (!stage) return { problems: [{ path: ['stage'], message: `unknown stage "${entry.stage}": use off, dogfood, kill, or a percentage such as 10% or 0.5% (at most 3 decimals)` }] };
  const base: FlagEnvironment = {
    ...defaultFlagEnvironment(flag.key, flag.variations, flag.type),
    ...(entry.salt !== undefined ? { salt: entry.salt } : {}),
    ...(entry.bucketBy !== undefined ? { bucketBy: entry.bucketBy } : {}),
    ...(entry.prerequisites?.length ? { prerequisites: entry.prerequisites } : {}),
  };
  if (stage === 'off' || stage === 'kill') return { config: applyStage(base, stage, base.offVariation), problems: [] };
  if (!segmentExists(DOGFOOD_SEGMENT)) return { problems: [{ path: ['stage'], message: `stage ${stage} needs the "${DOGFOOD_SEGMENT}" (dogfood) segment` }] };
  const release = releaseVariation(flag as Flag, base, entry.variation);
  if (release === undefined || !flag.variations.some((v) => v.key === release)) {
    return { problems: [{ path: [entry.variation === undefined ? 'stage' : 'variation'], message: release === undefined ? 'this flag has no variation to release; name one in "variation"' : `unknown variation "${release}"` }] };
  }
  if (release === base.offVariation) return { problems: [{ path: ['variation'], message: `"${release}" is the off variation; releasing it would change nothing` }] };
  return { config: applyStage(base, stage, release), problems: [] };
}

/** The shortest entry that expands to `config`: a stage when one fits exactly, else full targeting. */
export function compactEntry(flag: FlagShape, withGuard: FlagEnvironment): FlagEnvironmentEntry {
  // `guarded` is set by a running release plan, not kept in files.
  const { guarded: _guarded, ...config } = withGuard;
  const stage = deriveStage(config);
  if (stage !== 'custom') {
    const base: StageEntry = {
      stage,
      ...(config.salt !== flag.key ? { salt: config.salt } : {}),
      ...(config.bucketBy !== DEFAULT_BUCKET_BY ? { bucketBy: config.bucketBy } : {}),
      ...(config.prerequisites?.length ? { prerequisites: config.prerequisites } : {}),
    };
    const release = releaseVariation(flag as Flag, config);
    const candidates: StageEntry[] = [base, ...(release !== undefined ? [{ ...base, variation: release }] : [])];
    for (const candidate of candidates) {
      const expanded = expandEntry(flag, candidate, () => true).config;
      if (expanded && sameValue(expanded, config)) return sortKeys(candidate);
    }
  }
  // `killed: false` is the default: left out, like every other default.
  const { killed, ...rest } = config;
  const written = killed ? config : (rest as FlagEnvironment);
  // No prerequisites is the default too.
  if (written.prerequisites?.length === 0) return sortKeys({ ...written, prerequisites: undefined });
  return sortKeys(written);
}
