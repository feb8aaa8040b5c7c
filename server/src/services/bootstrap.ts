import type { Store } from '../store/ports.js';
import { DOGFOOD_SEGMENT } from '../domain/stages.js';
import { API_TOKEN_PREFIX, displayPrefix, hashSecret, newSecret } from '../domain/secrets.js';

const SYSTEM = { actor: 'system', source: 'system' } as const;

export const DEFAULT_ENVIRONMENTS = [
  { key: 'development', name: 'Development', critical: false },
  { key: 'staging', name: 'Staging', critical: false },
  { key: 'production', name: 'Production', critical: true },
] as const;

/**
 * First start on an empty database: the three default environments, the `internal` (dogfood)
 * segment and an admin token — `adminToken` when given, else a fresh one returned to print once.
 * Later starts change nothing (a deleted environment stays deleted).
 */
export async function bootstrap(store: Store, adminToken?: string): Promise<{ generatedAdminToken?: string }> {
  if ((await store.countApiTokens()) > 0) return {};
  if ((await store.listEnvironments()).length === 0) {
    for (const env of DEFAULT_ENVIRONMENTS) await store.createEnvironment(env, SYSTEM);
  }
  if (!(await store.getSegment(DOGFOOD_SEGMENT))) {
    await store.createSegment(
      { key: DOGFOOD_SEGMENT, name: 'Internal users', description: 'Dogfood users: they get every release first.', unitAttribute: 'userId', included: [], excluded: [], rules: [] },
      SYSTEM,
    );
  }
  const secret = adminToken ?? newSecret(API_TOKEN_PREFIX);
  await store.createApiToken({ name: 'admin', role: 'admin', tokenHash: hashSecret(secret), prefix: adminToken ? '(SWITCHYARD_ADMIN_TOKEN)' : displayPrefix(secret) }, SYSTEM);
  return adminToken ? {} : { generatedAdminToken: secret };
}
