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
/** What reading a flag reports: a stage, or `custom` when the targeting is not exactly a stage (see `describeTargeting`). */
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

/**
 * What a configuration is, in the stage vocabulary, without stretching it: a stage only when the
 * targeting is exactly what moving to that stage sets — the dogfood rule, the default rule, and no
 * other rule or individual target. A rule `plan in [pro]` serving the release variation next to
 * the dogfood rule is not "dogfood": pro users get it too, so it reads `custom`, "dogfood + 1 rule".
 */
export interface StageDescription {
  /** Exactly a stage, or `custom`. */
  stage: DerivedStage;
  /**
   * Short words for what it is: the stage itself (`dogfood`, `10%`, `off`), what a custom
   * configuration is made of (`dogfood + 1 rule`, `10% + 2 targets`, `1 rule only`,
   * `30% without dogfood`), or `killed (was 100%)`.
   */
  summary: string;
  /**
   * Killed configurations only: the stage to restore (the kill keeps the targeting, so it still says
   * where the flag was). Moving there rewrites only the dogfood and default rules, so other rules and
   * targets come back as they were. Null when not killed, or when the flag was at no stage.
   */
  killedFrom: Exclude<ReleaseStage, 'kill'> | null;
}

/** The dogfood and default rules alone: the stage they set, in words (`''` for nobody). */
interface Ramp {
  stage: Exclude<DerivedStage, 'kill'>;
  text: string;
  /** It has the dogfood rule (one of its rules is that rule, not an extra). */
  dogfood: boolean;
}

/** A dogfood-shaped rule serving the off variation releases nothing: it is just another rule. */
function isReleasingDogfoodRule(rule: Rule, off: string): boolean {
  return isDogfoodRule(rule) && 'variation' in rule.serve && rule.serve.variation !== off;
}

function rampOf(config: FlagEnvironment): Ramp {
  const off = config.offVariation;
  const dogfoodRule = config.rules.find((r) => isReleasingDogfoodRule(r, off));
  const dogfood = dogfoodRule !== undefined;
  const ramp = (stage: Ramp['stage'], text: string): Ramp => ({ stage, text, dogfood });
  const fromDogfood = dogfoodRule && 'variation' in dogfoodRule.serve ? dogfoodRule.serve.variation : undefined;
  const serve = config.defaultServe;
  if ('variation' in serve) {
    if (serve.variation === off) return dogfood ? ramp('dogfood', 'dogfood') : ramp('off', '');
    if (fromDogfood === undefined || serve.variation === fromDogfood) return ramp('100%', '100%');
    return ramp('custom', `dogfood: ${fromDogfood}, everyone else: ${serve.variation}`);
  }
  const rollout = serve.rollout;
  const release = fromDogfood ?? rollout.variations[0]?.variation;
  const shares = rollout.variations.filter((v) => v.weight > 0);
  const share = (weight: number) => formatPercentage((weight * 100) / BUCKETS);
  const [inside, outside] = shares;
  if (shares.length === 2 && inside!.variation === release && outside!.variation === off) {
    const percentage = share(inside!.weight);
    const own = [rollout.bucketBy !== undefined ? ` by ${rollout.bucketBy}` : '', rollout.salt !== undefined ? ' (own salt)' : '', dogfood ? '' : ' without dogfood'].join('');
    return own === '' ? ramp(percentage, percentage) : ramp('custom', `${percentage}${own}`);
  }
  const split = shares.map((v) => `${share(v.weight)} ${v.variation}`).join(' / ');
  return ramp('custom', `${dogfood ? 'dogfood + ' : ''}split ${split}`);
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** A configuration described truthfully; see `StageDescription`. */
export function describeTargeting(config: FlagEnvironment): StageDescription {
  if (!config.on) {
    if (!config.killed) return { stage: 'off', summary: 'off', killedFrom: null };
    const before = describeTargeting({ ...config, on: true, killed: false });
    const ramp = rampOf(config);
    // `off` underneath a kill means it was off (a kill of an off flag resets the ramp, see applyStage).
    const killedFrom = before.stage !== 'custom' ? (before.stage as StageDescription['killedFrom']) : ramp.stage !== 'custom' && ramp.stage !== 'off' ? ramp.stage : null;
    return { stage: 'kill', summary: `killed (was ${before.summary})`, killedFrom };
  }
  const ramp = rampOf(config);
  if (ramp.stage === 'off' && servesOnlyOff(config)) return { stage: 'off', summary: 'off', killedFrom: null };
  const rules = config.rules.length - (ramp.dogfood ? 1 : 0);
  const targets = config.targets.reduce((sum, t) => sum + t.values.length, 0);
  if (ramp.stage !== 'custom' && rules === 0 && targets === 0) return { stage: ramp.stage, summary: ramp.text, killedFrom: null };
  const extras = [rules > 0 ? plural(rules, 'rule') : '', targets > 0 ? plural(targets, 'target') : ''].filter(Boolean);
  const summary = ramp.text === '' ? `${extras.join(' + ')} only` : [ramp.text, ...extras].join(' + ');
  return { stage: 'custom', summary, killedFrom: null };
}

/**
 * The stage a configuration is at, derived from its targeting (never stored separately): exactly a
 * stage, else `custom` (see `describeTargeting`). Reading a flag, the CLI and GitOps export all say
 * this, so none of them calls a configuration a stage it is not.
 */
export function deriveStage(config: FlagEnvironment): DerivedStage {
  return describeTargeting(config).stage;
}

/**
 * The stage of the dogfood and default rules alone, other rules and targets aside: where a stage
 * change starts from, since it rewrites only those two and keeps the rest. Release plans use it to
 * tell whether the flag is still at their step; `custom` when those two rules fit no stage.
 */
export function rampStage(config: FlagEnvironment): DerivedStage {
  if (!config.on) return config.killed ? 'kill' : 'off';
  return rampOf(config).stage;
}

/** The configuration after moving to `stage`. Pure: the caller writes it (and its audit entry). */
export function applyStage(config: FlagEnvironment, stage: ReleaseStage, release: string): FlagEnvironment {
  if (stage === 'kill') {
    // The kill keeps the targeting, which is how a killed flag remembers the stage to restore. A flag
    // that was already off is reset to the off stage first, so its dormant targeting (a PATCH of
    // `on: false` keeps it) cannot later claim it was released.
    const before = !config.on && !config.killed ? applyStage(config, 'off', release) : config;
    return { ...before, on: false, killed: true };
  }
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
