import type { Flag, FlagEnvironment } from './flags.js';

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
