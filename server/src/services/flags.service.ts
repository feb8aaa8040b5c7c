import { AppError } from '../domain/errors.js';
import type { ManagedResources } from './gitops/managed.js';
import type { RuleSetCache } from './rulesets.js';
import type { AuditContext, NewFlag, Store, Write } from '../store/ports.js';
import { defaultFlagEnvironment } from '../domain/flag-defaults.js';
import type { Flag, FlagEnvironment } from '../domain/flags.js';
import { applyStage, deriveStage, parseStage, releaseVariation, type DerivedStage } from '../domain/stages.js';
import { assertNoProblems, configProblems, flagProblems, variationProblems } from '../domain/flag-validation.js';

export interface CreateFlagInput {
  key: string;
  name?: string;
  description?: string;
  tags?: string[];
  owner?: string;
  type: Flag['type'];
  variations?: Flag['variations'];
}

export interface FlagMetaPatch {
  name?: string;
  description?: string;
  tags?: string[];
  owner?: string;
  variations?: Flag['variations'];
  archived?: boolean;
}

export type FlagEnvironmentPatch = Partial<FlagEnvironment>;

const BOOLEAN_VARIATIONS: Flag['variations'] = [
  { key: 'off', value: false },
  { key: 'on', value: true },
];

/** Flags: every write validated, version-checked and audited in one transaction, then published. */
export class FlagsService {
  constructor(
    private readonly store: Store,
    private readonly ruleSets: RuleSetCache,
    /** Flags a synced Git file manages are read-only here (423), whoever asks. */
    private readonly managed?: ManagedResources,
  ) {}

  private publish<T>(write: Write<T>): T {
    this.ruleSets.publish(write);
    return write.value;
  }

  private async segmentKeys(): Promise<Set<string>> {
    return new Set(await this.store.listSegmentKeys());
  }

  private async environmentKeys(): Promise<Set<string>> {
    return new Set((await this.store.listEnvironments()).map((e) => e.key));
  }

  async list(): Promise<Flag[]> {
    return this.store.listFlags();
  }

  async get(key: string): Promise<Flag> {
    const flag = await this.store.getFlag(key);
    if (!flag) throw AppError.notFound('flag', key);
    return flag;
  }

  async create(input: CreateFlagInput, audit: AuditContext): Promise<Flag> {
    this.managed?.assertFlagWritable(input.key);
    const variations = input.variations ?? (input.type === 'boolean' ? BOOLEAN_VARIATIONS : undefined);
    if (!variations) throw AppError.invalid('body.variations', `a ${input.type} flag needs its variations`);
    const environments: Record<string, FlagEnvironment> = {};
    for (const env of await this.environmentKeys()) environments[env] = defaultFlagEnvironment(input.key, variations, input.type);
    const flag: NewFlag = {
      key: input.key,
      name: input.name ?? input.key,
      description: input.description ?? '',
      tags: [...new Set(input.tags ?? [])],
      owner: input.owner ?? '',
      type: input.type,
      variations,
      archived: false,
      environments,
    };
    assertNoProblems(variationProblems(flag, 'body.variations'));
    return this.publish(await this.store.createFlag(flag, audit));
  }

  async updateMeta(key: string, expectedVersion: number | undefined, patch: FlagMetaPatch, audit: AuditContext): Promise<Flag> {
    this.managed?.assertFlagWritable(key);
    const segments = await this.segmentKeys();
    const action = patch.archived === true ? 'flag.archived' : patch.archived === false ? 'flag.restored' : 'flag.updated';
    const write = await this.store.updateFlag(key, expectedVersion, action, null, (flag) => {
      const next: Flag = { ...flag, ...definedOnly(patch) };
      if (patch.tags) next.tags = [...new Set(patch.tags)];
      if (patch.variations) {
        assertNoProblems(variationProblems(next, 'body.variations'));
        assertNoProblems(flagProblems(next, segments).map((p) => ({ ...p, message: `${p.message} (after changing variations)` })));
      }
      return next;
    }, audit);
    return this.publish(write);
  }

  async updateEnvironment(key: string, environment: string, expectedVersion: number | undefined, patch: FlagEnvironmentPatch, audit: AuditContext): Promise<Flag> {
    this.managed?.assertFlagWritable(key);
    const segments = await this.segmentKeys();
    const write = await this.store.updateFlag(key, expectedVersion, 'flag.environment_updated', environment, (flag) => {
      const current = configIn(flag, environment);
      const next: FlagEnvironment = { ...current, ...definedOnly(patch) };
      // Turning the flag on or off by hand clears the kill marker; `kill` sets it.
      if (patch.on !== undefined && patch.killed === undefined) next.killed = false;
      assertNoProblems(configProblems(next, new Set(flag.variations.map((v) => v.key)), segments, 'body'));
      return { ...flag, environments: { ...flag.environments, [environment]: next } };
    }, audit);
    return this.publish(write);
  }

  /** Move to a release stage (`off`, `dogfood`, `N%`, `100%`, `kill`) in one atomic, audited write. */
  async setStage(key: string, environment: string, stageText: string, variation: string | undefined, expectedVersion: number | undefined, audit: AuditContext): Promise<Flag> {
    const stage = parseStage(stageText);
    if (!stage) throw AppError.invalid('body.stage', `unknown stage "${stageText}": use off, dogfood, kill, or a percentage such as 10% or 0.5% (at most 3 decimals)`);
    // The kill switch works on Git-managed flags too: an incident must not wait for a merge. The
    // database then differs from the file, which sync mode reports as drift until the file agrees.
    if (stage !== 'kill') this.managed?.assertFlagWritable(key);
    if (stage !== 'off' && stage !== 'kill' && !(await this.segmentKeys()).has('internal')) {
      throw new AppError('conflict', 'the "internal" (dogfood) segment is missing; recreate it before using release stages');
    }
    const action = stage === 'kill' ? 'flag.killed' : 'flag.stage_changed';
    const write = await this.store.updateFlag(key, expectedVersion, action, environment, (flag) => {
      const current = configIn(flag, environment);
      const release = releaseVariation(flag, current, variation);
      if (release === undefined || !flag.variations.some((v) => v.key === release)) {
        throw AppError.invalid('body.variation', release === undefined ? 'this flag has no variation to release; name one in "variation"' : `unknown variation "${release}"`);
      }
      if (release === current.offVariation && stage !== 'off' && stage !== 'kill') {
        throw AppError.invalid('body.variation', `"${release}" is the off variation; releasing it would change nothing`);
      }
      return { ...flag, environments: { ...flag.environments, [environment]: applyStage(current, stage, release) } };
    }, audit);
    return this.publish(write);
  }

  async remove(key: string, expectedVersion: number | undefined, audit: AuditContext): Promise<Flag> {
    this.managed?.assertFlagWritable(key);
    return this.publish(await this.store.deleteFlag(key, expectedVersion, audit));
  }

  /** Restore a flag to its state before an audit entry (deleting it if the entry created it). */
  async revert(auditId: number, expectedVersion: number | undefined, audit: AuditContext): Promise<Flag | null> {
    const entry = await this.store.getAuditEntry(auditId);
    if (!entry) throw AppError.notFound('audit entry', auditId);
    if (entry.resourceType !== 'flag') throw new AppError('bad_request', `audit entry ${auditId} is about a ${entry.resourceType}; only flag changes can be reverted`);
    this.managed?.assertFlagWritable(entry.resourceKey);
    const snapshot = (entry.before ?? null) as Flag | null;
    const current = await this.store.getFlag(entry.resourceKey);
    if (current && expectedVersion === undefined) {
      throw new AppError('precondition_required', `send flag "${entry.resourceKey}"'s current version ("version" or If-Match) so the revert cannot overwrite a newer change`);
    }
    if (!current && !snapshot) throw new AppError('conflict', `flag "${entry.resourceKey}" does not exist and did not exist before entry ${auditId}: nothing to revert`);
    if (snapshot) assertNoProblems(flagProblems({ ...snapshot, environments: filterKeys(snapshot.environments, await this.environmentKeys()) }, await this.segmentKeys()));
    return this.publish(await this.store.restoreFlag(entry.resourceKey, snapshot, expectedVersion, { ...audit, revertOf: auditId }));
  }

  /** The Git file that manages the flag (read-only here), or null. */
  managedBy(key: string): string | null {
    return this.managed?.flagManagedBy(key) ?? null;
  }

  stages(flag: Flag): Record<string, DerivedStage> {
    return Object.fromEntries(Object.entries(flag.environments).map(([env, config]) => [env, deriveStage(config)]));
  }

}

/** Every flag has a configuration in every environment, so a missing one means no such environment. */
function configIn(flag: Flag, environment: string): FlagEnvironment {
  const config = flag.environments[environment];
  if (!config) throw AppError.notFound('environment', environment);
  return config;
}

function definedOnly<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function filterKeys<V>(record: Record<string, V>, keep: ReadonlySet<string>): Record<string, V> {
  return Object.fromEntries(Object.entries(record).filter(([k]) => keep.has(k)));
}
