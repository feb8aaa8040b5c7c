import { ownEntry, type Flag, type FlagEnvironment } from '../flags.js';
import { sameValue } from './canonical.js';
import type { DesiredState } from './desired.js';

/**
 * An incident override: the kill switch pulled on a Git-managed flag in one environment. An
 * incident must not wait for a merge, nor be undone by the next sync or a restart, so the sync
 * leaves that flag+environment killed until someone resumes it, or until a new commit changes what
 * the file asks for there (then the commit wins: whoever wrote it decided after the kill).
 * Everything else — the flag's other environments and fields, every other flag — syncs as usual.
 */
export interface IncidentOverride {
  flag: string;
  environment: string;
  killedAt: number;
  /** The actor who pulled the kill switch. */
  killedBy: string;
  message: string | null;
  /** The commit the sync had applied when the flag was killed (null: no Git working tree, or never applied). */
  sinceCommit: string | null;
  /**
   * What the file asked for in this environment as of the kill: a commit whose configuration
   * differs from it changed the flag, and resuming puts it back. Recorded from the configuration
   * the kill replaced; the leader corrects it from the file itself while the file is unchanged
   * since its last apply (see `decideIncidents`).
   */
  fileConfig: FlagEnvironment;
}

export type IncidentDecision =
  /** The file asks for what it asked for at the kill (or says nothing for this environment): stay killed. */
  | { kind: 'hold'; incident: IncidentOverride }
  /** Stay killed, and record `fileConfig` as what the file asks for (the kill's record was a guess). */
  | { kind: 'rebase'; incident: IncidentOverride; fileConfig: FlagEnvironment }
  /** A new commit changed this flag in this environment (or removed the flag): the file wins. */
  | { kind: 'end'; incident: IncidentOverride; reason: 'changed' | 'removed' };

/** `guarded` belongs to a running release plan, never to the file. */
function withoutGuard(config: FlagEnvironment): Omit<FlagEnvironment, 'guarded'> {
  const { guarded: _guarded, ...rest } = config;
  return rest;
}

export const sameTargeting = (a: FlagEnvironment, b: FlagEnvironment): boolean => sameValue(withoutGuard(a), withoutGuard(b));

/**
 * What the sync does with each incident override, given the file's desired state. `fileChanged`:
 * the files differ from the ones last applied. When they do not, a difference between the file
 * and `fileConfig` cannot be a new commit (the last apply compared every override that existed
 * then); it comes from a kill recorded against a database that already differed from the file,
 * so the file's configuration is recorded instead (`rebase`) and the flag stays killed.
 */
export function decideIncidents(desired: DesiredState, incidents: readonly IncidentOverride[], fileChanged: boolean): IncidentDecision[] {
  return incidents.map((incident): IncidentDecision => {
    const flag = desired.flags.get(incident.flag);
    // Removed from the file: the sync deletes the flag it managed (and its override with it).
    if (!flag) return { kind: 'end', incident, reason: 'removed' };
    const wanted = ownEntry(flag.environments, incident.environment);
    // The file says nothing for this environment, so the sync never writes it: nothing to hold against.
    if (!wanted || sameTargeting(wanted, incident.fileConfig)) return { kind: 'hold', incident };
    return fileChanged ? { kind: 'end', incident, reason: 'changed' } : { kind: 'rebase', incident, fileConfig: wanted };
  });
}

/**
 * `desired` with every held flag+environment set to what the database has (the kill), so a plan
 * built from it leaves them alone — and does not report them as drift — while it still applies the
 * rest of those flags.
 */
export function holdIncidents(desired: DesiredState, current: readonly Pick<Flag, 'key' | 'environments'>[], decisions: readonly IncidentDecision[]): DesiredState {
  const held = decisions.filter((d) => d.kind !== 'end');
  if (held.length === 0) return desired;
  const flags = new Map(desired.flags);
  const byKey = new Map(current.map((f) => [f.key, f]));
  for (const { incident } of held) {
    const want = flags.get(incident.flag);
    const have = ownEntry(byKey.get(incident.flag)?.environments ?? {}, incident.environment);
    if (!want || !have || !ownEntry(want.environments, incident.environment)) continue;
    flags.set(incident.flag, { ...want, environments: { ...want.environments, [incident.environment]: have } });
  }
  return { ...desired, flags };
}
