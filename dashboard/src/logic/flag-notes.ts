import type { Environment, Flag, FlagEnvironment } from '../api/types.js';
import { stageLabel } from '../components/StageBadge.js';
import { describeStage } from './stages.js';

const envName = (environments: readonly Environment[], key: string) => environments.find((e) => e.key === key)?.name ?? key;

/** "ci-bot", "ci-bot and ana", "ci-bot, ana and ops". */
export function joinNames(names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? 'Someone';
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** Where a stage move went, as words: "moved this to 50%", "killed this", "turned this off". */
function moveText(config: FlagEnvironment): string {
  const view = describeStage(config.stage);
  if (view.kind === 'kill') return 'killed this';
  if (view.kind === 'off') return 'turned this off';
  return `moved this to ${stageLabel(config.stage, config.stageSummary)}`;
}

/**
 * The toast for a change someone else made to the flag on screen: what moved, when the before and
 * after copies show a stage change ("ci-bot moved this to 50% in Production"), else that it changed.
 * Environments are listed in the app's order; the current one first, since that is what is shown.
 */
export function describeRemoteChange(actors: readonly string[], before: Flag | undefined, after: Flag, environments: readonly Environment[], current?: string): string {
  const who = joinNames(actors);
  if (!before) return `${who} changed this flag.`;
  // The current environment first, then the app's order; an unknown one (-1 >>> 0) last.
  const rank = (key: string) => (key === current ? -1 : environments.findIndex((e) => e.key === key) >>> 0);
  const keys = Object.keys(after.environments).sort((a, b) => rank(a) - rank(b));
  const moves = keys
    .filter((key) => {
      const was = before.environments[key];
      const now = after.environments[key]!;
      return was !== undefined && (was.stage !== now.stage || (now.stage === 'custom' && was.stageSummary !== now.stageSummary));
    })
    .map((key) => `${moveText(after.environments[key]!)} in ${envName(environments, key)}`);
  if (moves.length === 0) return `${who} changed this flag.`;
  return `${who} ${moves.join('; ')}.`;
}

/**
 * "Targeting saved in Staging." — and when the environment is off or killed, that the rules serve
 * nobody yet: saving rules on an off flag otherwise reads as if they were live.
 */
export function targetingSavedText(envName: string, config: FlagEnvironment | undefined): string {
  const saved = `Targeting saved in ${envName}.`;
  if (!config || config.on) return saved;
  if (config.killed) return `${saved} The flag is killed in ${envName}, so these rules serve nobody until it is released again.`;
  return `${saved} The flag is off in ${envName}, so these rules serve nobody until it is turned on.`;
}
