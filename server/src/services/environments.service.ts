import type { AuditContext } from '../domain/audit.js';
import { nextSortOrder, type Environment, type EnvironmentInput, type EnvironmentPatch } from '../domain/environments.js';
import { AppError } from '../domain/errors.js';
import { defaultFlagEnvironment } from '../domain/flag-defaults.js';
import { SECURE_MODE_PREFIX, newSecret } from '../domain/secrets.js';
import type { FlagEnvironment } from '../domain/flags.js';
import type { Tx } from '../store/ports.js';
import { NO_CHANGE, type Change, type Writes } from './write.js';

/**
 * Environments. Every write here takes the change feed's lock first: it touches the environment
 * rows that feed appends also update (their rule-set version), and taking the locks in the same
 * order everywhere keeps concurrent writers from deadlocking on PostgreSQL.
 */
export class EnvironmentsService {
  constructor(private readonly w: Writes) {}

  list(): Promise<Environment[]> {
    return this.w.read((tx) => this.w.repos.environments.list(tx));
  }

  /** Its version is the position of its creation in the change feed (where its SDKs start). */
  async create(input: EnvironmentInput, ctx: AuditContext): Promise<Environment> {
    const created = await this.w.write(ctx, (tx, at) => this.createIn(tx, at, input));
    return (await this.w.read((tx) => this.w.repos.environments.get(tx, created.key))) ?? created;
  }

  /** A new environment, in which every flag starts off. */
  async createIn(tx: Tx, at: number, input: EnvironmentInput): Promise<{ value: Environment; change: Change }> {
    const { repos } = this.w;
    await repos.feed.lock(tx);
    const environment = await repos.environments.insert(tx, { ...input, sortOrder: nextSortOrder(await repos.environments.list(tx)), createdAt: at });
    const configs = new Map<string, FlagEnvironment>();
    for (const { value: flag } of await repos.flags.list(tx)) configs.set(flag.key, defaultFlagEnvironment(flag.key, flag.variations, flag.type));
    await repos.flags.insertConfigs(tx, environment.key, configs);
    // Its SDKs start from a snapshot: `null` tells every replica to (re)load it.
    const change: Change = { audit: [{ action: 'environment.created', resourceType: 'environment', resourceKey: environment.key, environment: environment.key, before: null, after: environment }], sdk: { [environment.key]: null } };
    return { value: environment, change };
  }

  async update(key: string, patch: EnvironmentPatch, ctx: AuditContext): Promise<Environment> {
    return this.w.write(ctx, async (tx) => {
      const { repos } = this.w;
      await repos.feed.lock(tx);
      const before = await repos.environments.get(tx, key);
      if (!before) throw AppError.notFound('environment', key);
      // PATCH semantics: `{}`, or values it already has, change nothing — no UPDATE (an empty SET is
      // an SQL error), no audit entry, no feed entry; the caller gets the environment as it is.
      const changed = Object.fromEntries(Object.entries(patch).filter(([field, value]) => value !== undefined && value !== before[field as keyof EnvironmentPatch]));
      if (Object.keys(changed).length === 0) return { value: before, change: NO_CHANGE };
      const after = await repos.environments.update(tx, key, changed);
      if (!after) throw AppError.notFound('environment', key);
      return { value: after, change: { audit: [{ action: 'environment.updated', resourceType: 'environment', resourceKey: key, environment: key, before, after }] } };
    });
  }

  /**
   * Secure mode for client keys: a new HMAC secret (turning it on, or rotating it — the old one
   * stops working at once, on every replica). The secret is returned here only; the audit entry
   * records that it changed, never the secret.
   */
  async rotateClientSecret(key: string, ctx: AuditContext): Promise<{ environment: Environment; secret: string }> {
    const secret = newSecret(SECURE_MODE_PREFIX);
    const environment = await this.setClientSecret(key, secret, ctx);
    return { environment, secret };
  }

  /** Secure mode off: client keys may again ask for any user key's values. */
  disableSecureMode(key: string, ctx: AuditContext): Promise<Environment> {
    return this.setClientSecret(key, null, ctx);
  }

  private setClientSecret(key: string, secret: string | null, ctx: AuditContext): Promise<Environment> {
    return this.w.write(ctx, async (tx) => {
      const { repos } = this.w;
      await repos.feed.lock(tx);
      const before = await repos.environments.get(tx, key);
      if (!before) throw AppError.notFound('environment', key);
      if (secret === null && !before.clientSecureMode) return { value: before, change: NO_CHANGE };
      const after = await repos.environments.setClientSecret(tx, key, secret);
      if (!after) throw AppError.notFound('environment', key);
      const action = secret === null ? 'environment.secure_mode_disabled' : before.clientSecureMode ? 'environment.secure_mode_rotated' : 'environment.secure_mode_enabled';
      const change: Change = {
        audit: [{ action, resourceType: 'environment', resourceKey: key, environment: key, before, after }],
        revoked: [{ kind: 'secure-mode', environment: key }],
      };
      return { value: after, change };
    });
  }

  async remove(key: string, ctx: AuditContext): Promise<Environment> {
    return this.w.write(ctx, async (tx) => {
      const { repos } = this.w;
      await repos.feed.lock(tx);
      const before = await repos.environments.get(tx, key);
      if (!before) throw AppError.notFound('environment', key);
      const active = await repos.sdkKeys.countActive(tx, key);
      if (active > 0) throw new AppError('conflict', `environment "${key}" has ${active} active SDK key(s); revoke them first so no application loses its flags by surprise`);
      await repos.environments.delete(tx, key);
      const change: Change = { audit: [{ action: 'environment.deleted', resourceType: 'environment', resourceKey: key, environment: key, before, after: null }], sdk: { [key]: null } };
      return { value: before, change };
    });
  }
}
