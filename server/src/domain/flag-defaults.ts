import { ownEntry, type Flag, type FlagEnvironment } from './flags.js';

/** What a boolean flag gets when no variations are given. */
export const BOOLEAN_VARIATIONS: Flag['variations'] = [
  { key: 'off', value: false },
  { key: 'on', value: true },
];

/** A new flag's configuration in an environment: on = false, serving its off variation to everyone. */
export function defaultFlagEnvironment(key: string, variations: Flag['variations'], type: string): FlagEnvironment {
  const off = (type === 'boolean' ? variations.find((v) => v.value === false) : undefined) ?? variations[0]!;
  return {
    on: false,
    killed: false,
    offVariation: off.key,
    targets: [],
    rules: [],
    defaultServe: { variation: off.key },
    salt: key,
    bucketBy: 'userId',
  };
}

/** Environments whose stored configuration differs between two states of a flag (what to write). */
export function changedConfigs(before: Pick<Flag, 'environments'> | null, after: Pick<Flag, 'environments'>): Record<string, FlagEnvironment> {
  const changed: Record<string, FlagEnvironment> = {};
  for (const [environment, config] of Object.entries(after.environments)) {
    const previous = before ? ownEntry(before.environments, environment) : undefined;
    // Changes build new objects and keep the others: the same object is the same configuration.
    if (previous === config) continue;
    if (previous === undefined || JSON.stringify(previous) !== JSON.stringify(config)) changed[environment] = config;
  }
  return changed;
}

/** Segment keys a flag's rules refer to (in any environment). */
export function segmentReferences(flag: Pick<Flag, 'environments'>): Set<string> {
  const keys = new Set<string>();
  for (const config of Object.values(flag.environments)) {
    for (const rule of config.rules) {
      for (const clause of rule.clauses) {
        if (clause.operator === 'in_segment' || clause.operator === 'not_in_segment') for (const value of clause.values) keys.add(String(value));
      }
    }
  }
  return keys;
}
