import type { Environment } from '../api/types.js';

/** The options of an environment filter's `<select>`: "All environments" (value '') and each environment by name. */
export function EnvironmentOptions({ environments }: { environments: readonly Environment[] }) {
  return (
    <>
      <option value="">All environments</option>
      {environments.map((e) => (
        <option key={e.key} value={e.key}>
          {e.name}
        </option>
      ))}
    </>
  );
}
