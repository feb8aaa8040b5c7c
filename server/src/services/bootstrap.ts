import { DEFAULT_ENVIRONMENTS } from '../domain/environments.js';
import { API_TOKEN_PREFIX, displayPrefix, hashSecret, newSecret } from '../domain/secrets.js';
import { segmentPatches } from '../domain/ruleset.js';
import { DOGFOOD_SEGMENT } from '../domain/stages.js';
import { stampNew } from '../domain/versions.js';
import type { EnvironmentsService } from './environments.service.js';
import { combine, NO_CHANGE, type Change, type Writes } from './write.js';

const SYSTEM = { actor: 'system', source: 'system' } as const;

/**
 * First start on an empty database: the three default environments, the `internal` (dogfood)
 * segment and an admin token — `adminToken` when given, else a fresh one returned to print once.
 * One transaction that first takes the change feed's lock, so replicas starting together on an
 * empty database queue up: the first bootstraps, the others find it done. Later starts change
 * nothing (a deleted environment stays deleted).
 */
export async function bootstrap(w: Writes, environments: EnvironmentsService, adminToken?: string): Promise<{ generatedAdminToken?: string }> {
  const secret = adminToken ?? newSecret(API_TOKEN_PREFIX);
  const created = await w.write(SYSTEM, async (tx, at) => {
    const { repos } = w;
    await repos.feed.lock(tx);
    if ((await repos.tokens.count(tx)) > 0) return { value: false, change: NO_CHANGE };
    let change: Change = { audit: [] };
    if ((await repos.environments.list(tx)).length === 0) {
      for (const env of DEFAULT_ENVIRONMENTS) change = combine(change, (await environments.createIn(tx, at, env)).change);
    }
    if (!(await repos.segments.get(tx, DOGFOOD_SEGMENT))) {
      const segment = stampNew(
        { key: DOGFOOD_SEGMENT, name: 'Internal users', description: 'Dogfood users: they get every release first.', unitAttribute: 'userId', included: [], excluded: [], rules: [] },
        SYSTEM.actor,
        at,
      );
      await repos.segments.insert(tx, segment);
      const environmentKeys = (await repos.environments.list(tx)).map((e) => e.key);
      change = combine(change, {
        audit: [{ action: 'segment.created', resourceType: 'segment', resourceKey: segment.key, environment: null, before: null, after: segment }],
        sdk: segmentPatches(segment.key, segment, environmentKeys),
      });
    }
    const prefix = adminToken ? '(SWITCHYARD_ADMIN_TOKEN)' : displayPrefix(secret);
    const token = await repos.tokens.insert(tx, { name: 'admin', role: 'admin', tokenHash: hashSecret(secret), prefix, createdAt: at, createdBy: SYSTEM.actor });
    change = combine(change, { audit: [{ action: 'api_token.created', resourceType: 'api_token', resourceKey: String(token.id), environment: null, before: null, after: token }] });
    return { value: true, change };
  });
  return created && !adminToken ? { generatedAdminToken: secret } : {};
}
