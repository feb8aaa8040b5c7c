import { BUCKETS, percentageToBuckets } from '@switchyard/sdk';
import type { Rule, Serve } from '@switchyard/sdk';
import type { Flag, FlagEnvironment } from './flags.js';

/**
 * Release stages: the product manager's vocabulary over a flag's targeting.
 *
 *   off      kill switch off (everyone gets the off variation), not an emergency
 *   dogfood  only the `internal` segment gets the release variation
 *   N%       dogfood users plus N% of everyone (0.001 precision), by the flag's salt
 *   100%     everyone
 *   kill     off immediately, from any stage; shown as "Killed"
 *
 * A stage change rewrites only the dogfood rule (always first) and the default rule; other rules
 * and individual targets stay. The salt never changes, so ramps are monotonic: whoever is inside
 * 10% stays inside at 50%.
 */
export type ReleaseStage = 'off' | 'dogfood' | 'kill' | `${number}%`;
/** What reading a flag reports: a stage, or `custom` when the targeting fits no stage. */
export type DerivedStage = ReleaseStage | 'custom';

export const DOGFOOD_RULE_ID = 'dogfood';
export const DOGFOOD_SEGMENT = 'internal';

const STAGE_PATTERN = /^(off|dogfood|kill|(\d{1,3}(?:\.\d{1,3})?)%)$/;

/** Parse `off`, `dogfood`, `kill`, `10%`, `0.5%`, `100%`. Returns undefined for anything else. */
export function parseStage(text: string): ReleaseStage | undefined {
  const m = STAGE_PATTERN.exec(text.trim());
  if (!m) return undefined;
  if (m[2] === undefined) return m[1] as ReleaseStage;
  const percentage = Number(m[2]);
  if (percentage > 100) return undefined;
  return formatPercentage(percentage);
}

export function formatPercentage(percentage: number): `${number}%` {
  return `${Number(percentage.toFixed(3))}%`;
}

/** The variation a release turns on: `true` for boolean flags, else the given or current one. */
export function releaseVariation(flag: Flag, config: FlagEnvironment, requested?: string): string | undefined {
  if (requested !== undefined) return requested;
  if (flag.type === 'boolean') return flag.variations.find((v) => v.value === true)?.key;
  const current = currentReleaseVariation(config);
  if (current !== undefined) return current;
  return flag.variations.find((v) => v.key !== config.offVariation)?.key;
}

function isDogfoodRule(rule: Rule): boolean {
  return (
    rule.id === DOGFOOD_RULE_ID &&
    rule.clauses.length === 1 &&
    rule.clauses[0]!.operator === 'in_segment' &&
    rule.clauses[0]!.values.length === 1 &&
    rule.clauses[0]!.values[0] === DOGFOOD_SEGMENT &&
    'variation' in rule.serve
  );
}

function currentReleaseVariation(config: FlagEnvironment): string | undefined {
  const dogfood = config.rules.find(isDogfoodRule);
  if (dogfood && 'variation' in dogfood.serve) return dogfood.serve.variation;
  const serve = config.defaultServe;
  if ('rollout' in serve) return serve.rollout.variations[0]?.variation;
  if (serve.variation !== config.offVariation) return serve.variation;
  return undefined;
}

function dogfoodRule(variation: string): Rule {
  return {
    id: DOGFOOD_RULE_ID,
    description: 'Internal users (dogfood)',
    clauses: [{ attribute: '', operator: 'in_segment', values: [DOGFOOD_SEGMENT] }],
    serve: { variation },
  };
}

/** On, but nobody can get anything other than the off variation: reads as "off". */
function servesOnlyOff(config: FlagEnvironment): boolean {
  const off = config.offVariation;
  return config.targets.every((t) => t.variation === off || t.values.length === 0) && config.rules.every((r) => 'variation' in r.serve && r.serve.variation === off);
}

/** The stage a configuration is at, derived from its targeting (never stored separately). */
export function deriveStage(config: FlagEnvironment): DerivedStage {
  if (!config.on) return config.killed ? 'kill' : 'off';
  const release = currentReleaseVariation(config);
  const hasDogfood = config.rules.some(isDogfoodRule);
  const serve = config.defaultServe;
  if ('variation' in serve) {
    if (serve.variation === config.offVariation) return hasDogfood ? 'dogfood' : servesOnlyOff(config) ? 'off' : 'custom';
    return serve.variation === release ? '100%' : 'custom';
  }
  const shares = serve.rollout.variations.filter((v) => v.weight > 0);
  const custom = serve.rollout.salt !== undefined || serve.rollout.bucketBy !== undefined;
  if (!hasDogfood || custom || shares.length !== 2) return 'custom';
  const [inside, outside] = shares as [(typeof shares)[0], (typeof shares)[0]];
  if (inside.variation !== release || outside.variation !== config.offVariation) return 'custom';
  return formatPercentage((inside.weight * 100) / BUCKETS);
}

/** The configuration after moving to `stage`. Pure: the caller writes it (and its audit entry). */
export function applyStage(config: FlagEnvironment, stage: ReleaseStage, release: string): FlagEnvironment {
  if (stage === 'kill') return { ...config, on: false, killed: true };
  const otherRules = config.rules.filter((r) => r.id !== DOGFOOD_RULE_ID);
  if (stage === 'off') {
    return { ...config, on: false, killed: false, rules: otherRules, defaultServe: { variation: config.offVariation } };
  }
  const rules = [dogfoodRule(release), ...otherRules];
  let defaultServe: Serve;
  if (stage === 'dogfood') {
    defaultServe = { variation: config.offVariation };
  } else {
    const inside = percentageToBuckets(Number(stage.slice(0, -1)));
    if (inside >= BUCKETS) defaultServe = { variation: release };
    else if (inside <= 0) defaultServe = { variation: config.offVariation };
    else {
      defaultServe = {
        rollout: {
          variations: [
            { variation: release, weight: inside },
            { variation: config.offVariation, weight: BUCKETS - inside },
          ],
        },
      };
    }
  }
  return { ...config, on: true, killed: false, rules, defaultServe };
}
