import type { AuditContext, AuditEntry } from '../domain/audit.js';
import { AppError } from '../domain/errors.js';
import { BOOLEAN_VARIATIONS, changedConfigs, defaultFlagEnvironment, segmentReferences } from '../domain/flag-defaults.js';
import { assertNoProblems, configProblems, flagProblems, matchesPatterns, variationProblems } from '../domain/flag-validation.js';
import { ownEntry, type Flag, type FlagEnvironment, type Managed } from '../domain/flags.js';
import { withoutEmptyPrerequisites } from '../domain/gitops/entries.js';
import { sameTargeting, type IncidentOverride } from '../domain/gitops/incidents.js';
import { webhookMessage } from '../domain/releases/webhooks.js';
import { flagPatches } from '../domain/ruleset.js';
import { DOGFOOD_SEGMENT, applyStage, deriveStage, parseStage, releaseVariation, type ReleaseStage } from '../domain/stages.js';
import { checkVersion, stampNew, stampNext } from '../domain/versions.js';
import type { Tx } from '../store/ports.js';
import { SYNC_STATE_KEY, type SyncStatus } from './gitops/sync.js';
import { assertSafePatterns } from './pattern-safety.js';
import { assertDirectWriteAllowed } from './change-requests/policy-guard.js';
import { assertPrerequisites, prerequisiteCheck } from './prerequisites.js';
import { RowMoved, type Change, type Writes } from './write.js';

export interface CreateFlagInput {
  key: string;
  name?: string;
  description?: string;
  tags?: string[];
  owner?: string;
  type: Flag['type'];
  variations?: Flag['variations'];
  clientVisible?: boolean;
}

export interface FlagMetaPatch {
  name?: string;
  description?: string;
  tags?: string[];
  owner?: string;
  variations?: Flag['variations'];
  archived?: boolean;
  clientVisible?: boolean;
}

export type FlagEnvironmentPatch = Partial<FlagEnvironment>;

/** Actions that move a flag's release stage: each one also goes to `flag.stage_changed` webhooks. */
const STAGE_ACTIONS = new Set(['flag.stage_changed', 'flag.killed', 'flag.switched', 'flag.resumed']);

export interface FlagChangeOptions {
  action: string;
  environment: string | null;
  /** The kill switch works on Git-managed flags too: an incident must not wait for a merge. */
  evenIfManaged?: boolean;
  /** Overrides the context's message for the audit entry. */
  message?: string;
  /** Where a prerequisite problem in an environment is reported (default `environments.<env>`). */
  prerequisitePath?: (environment: string) => string;
  /**
   * A check already running on this transaction (the approval policy): the flag is read alongside
   * it — both statements travel in one round trip — and nothing is written unless it passes.
   */
  allowed?: Promise<void>;
}

/** A flag as the API shows it: with the incident overrides that hold it against its Git file. */
export interface FlagWithIncidents extends Managed<Flag> {
  incidents: IncidentOverride[];
}

/** One flag change inside a transaction: its result and what to record. */
export interface FlagChange {
  value: Managed<Flag>;
  change: Change;
}

export function lockedByGit(what: 'flag' | 'segment', key: string, source: string): AppError {
  return new AppError('locked', `${what} "${key}" is managed by Git (${source}); change it there and commit, the server applies it`, { managedBy: source });
}

/** Flags: every write validated, version-checked and audited in one transaction with its feed entry. */
export class FlagsService {
  constructor(private readonly w: Writes) {}

  async list(): Promise<FlagWithIncidents[]> {
    return this.w.read(async (tx) => {
      const flags = await this.w.repos.flags.list(tx);
      const incidents = new Map<string, IncidentOverride[]>();
      for (const incident of await this.w.repos.incidents.list(tx)) incidents.set(incident.flag, [...(incidents.get(incident.flag) ?? []), incident]);
      return flags.map((f) => ({ ...f, incidents: incidents.get(f.value.key) ?? [] }));
    });
  }

  async get(key: string): Promise<FlagWithIncidents> {
    const found = await this.w.read(async (tx) => {
      const flag = await this.w.repos.flags.get(tx, key);
      return flag && { ...flag, incidents: await this.w.repos.incidents.forFlag(tx, key) };
    });
    if (!found) throw AppError.notFound('flag', key);
    return found;
  }

  async create(input: CreateFlagInput, ctx: AuditContext): Promise<Managed<Flag>> {
    const variations = input.variations ?? (input.type === 'boolean' ? BOOLEAN_VARIATIONS : undefined);
    if (!variations) throw AppError.invalid('body.variations', `a ${input.type} flag needs its variations`);
    const draft = { key: input.key, type: input.type, variations };
    assertNoProblems(variationProblems(draft, 'body.variations'));
    return this.w.write(ctx, async (tx, at) => {
      const environments: Record<string, FlagEnvironment> = {};
      for (const env of await this.w.repos.environments.list(tx)) environments[env.key] = defaultFlagEnvironment(input.key, variations, input.type);
      const flag = stampNew(
        { ...draft, name: input.name ?? input.key, description: input.description ?? '', tags: [...new Set(input.tags ?? [])], owner: input.owner ?? '', archived: false, clientVisible: input.clientVisible ?? false, environments },
        ctx.actor,
        at,
      );
      await this.w.repos.flags.insert(tx, flag);
      const change = { audit: [{ action: 'flag.created', resourceType: 'flag' as const, resourceKey: flag.key, environment: null, before: null, after: flag }], sdk: flagPatches(null, flag) };
      return { value: { value: flag, managedBy: null }, change };
    });
  }

  /**
   * Read a flag, apply `mutate`, and write it if it is still at the version read — all inside `tx`.
   * With `expected`, a different current version is a 409; without, a concurrent change is retried
   * (RowMoved) so the mutation always applies to the latest state: no lost updates either way.
   */
  async changeIn(tx: Tx, at: number, ctx: AuditContext, key: string, expected: number | undefined, options: FlagChangeOptions, mutate: (flag: Flag) => Flag | Promise<Flag>): Promise<FlagChange> {
    const { repos } = this.w;
    // Unpinned, the change must apply to whatever is current: lock the row rather than retry.
    const reading = repos.flags.get(tx, key, { forUpdate: expected === undefined });
    if (options.allowed) {
      reading.catch(() => {}); // the check's failure comes first
      await options.allowed;
    }
    const found = await reading;
    if (!found) throw AppError.notFound('flag', key);
    const before = found.value;
    if (found.managedBy !== null && !options.evenIfManaged) throw lockedByGit('flag', key, found.managedBy);
    checkVersion(`flag "${key}"`, before, expected);
    const after = stampNext({ ...(await mutate(before)), key }, before, ctx.actor, at);
    if (!(await repos.flags.update(tx, after, before.version, changedConfigs(before, after)))) {
      if (expected === undefined) throw new RowMoved(`flag "${key}"`);
      const current = await repos.flags.get(tx, key);
      if (!current) throw AppError.notFound('flag', key);
      checkVersion(`flag "${key}"`, current.value, expected);
      throw new RowMoved(`flag "${key}"`);
    }
    await assertPrerequisites(repos, tx, prerequisiteCheck(before, after, options.prerequisitePath));
    const { action, environment } = options;
    const message = options.message ?? ctx.message;
    const change: Change = {
      // The message is this change's own: a release step records several changes in one write.
      audit: [{ action, resourceType: 'flag', resourceKey: key, environment, before, after, ...(message !== undefined ? { message } : {}) }],
      sdk: flagPatches(before, after),
      webhooks: STAGE_ACTIONS.has(action) && environment !== null ? (audit) => stageChangedWebhooks(audit, after, environment) : undefined,
    };
    return { value: { value: after, managedBy: found.managedBy }, change };
  }

  private change(key: string, expected: number | undefined, ctx: AuditContext, options: FlagChangeOptions, mutate: (flag: Flag, tx: Tx) => Flag | Promise<Flag>): Promise<Managed<Flag>> {
    return this.w.write(ctx, (tx, at) => this.changeIn(tx, at, ctx, key, expected, options, (flag) => mutate(flag, tx)));
  }

  /**
   * Which of the segments `after` refers to exist. Those `before` already referred to do: a segment
   * in use cannot be deleted. The new ones are looked up — and locked against deletion until this
   * transaction ends.
   */
  private async segmentsOf(tx: Tx, before: Pick<Flag, 'environments'>, after: Pick<Flag, 'environments'>): Promise<Set<string>> {
    const inUse = segmentReferences(before);
    const wanted = segmentReferences(after);
    const known = new Set([...wanted].filter((key) => inUse.has(key)));
    const added = [...wanted].filter((key) => !inUse.has(key));
    if (added.length === 0) return known;
    for (const key of await this.w.repos.segments.existing(tx, added)) known.add(key);
    return known;
  }

  async updateMeta(key: string, expected: number | undefined, patch: FlagMetaPatch, ctx: AuditContext): Promise<Managed<Flag>> {
    const action = patch.archived === true ? 'flag.archived' : patch.archived === false ? 'flag.restored' : 'flag.updated';
    return this.change(key, expected, ctx, { action, environment: null }, async (flag, tx) => {
      const next: Flag = { ...flag, ...definedOnly(patch) };
      if (patch.tags) next.tags = [...new Set(patch.tags)];
      if (patch.variations) {
        assertNoProblems(variationProblems(next, 'body.variations'));
        const segments = await this.segmentsOf(tx, flag, next);
        assertNoProblems(flagProblems(next, segments).map((p) => ({ ...p, message: `${p.message} (after changing variations)` })));
      }
      return next;
    });
  }

  async updateEnvironment(key: string, environment: string, expected: number | undefined, patch: FlagEnvironmentPatch, ctx: AuditContext): Promise<Managed<Flag>> {
    // Before the transaction: the analysis may take a while and needs nothing from the database.
    if (patch.rules) await assertSafePatterns(matchesPatterns(patch.rules, 'body.'));
    return this.w.write(ctx, (tx, at) => {
      const allowed = assertDirectWriteAllowed(this.w.repos, tx, `changing the targeting of flag "${key}"`, environment);
      return this.updateEnvironmentIn(tx, at, ctx, key, environment, expected, patch, allowed);
    });
  }

  /**
   * `updateEnvironment` inside a transaction the caller opened (an applied change request), without
   * the approval check; the caller has checked `patch.rules`' patterns.
   */
  async updateEnvironmentIn(tx: Tx, at: number, ctx: AuditContext, key: string, environment: string, expected: number | undefined, patch: FlagEnvironmentPatch, allowed?: Promise<void>): Promise<FlagChange> {
    const options = { action: 'flag.environment_updated', environment, prerequisitePath: (env: string) => (env === environment ? 'body' : `environments.${env}`), allowed };
    return this.changeIn(tx, at, ctx, key, expected, options, async (flag) => {
      const next: FlagEnvironment = withoutEmptyPrerequisites({ ...configIn(flag, environment), ...definedOnly(patch) });
      // Turning the flag on or off by hand clears the kill marker; `kill` sets it.
      if (patch.on !== undefined && patch.killed === undefined) next.killed = false;
      const segments = await this.segmentsOf(tx, flag, { environments: { [environment]: next } });
      assertNoProblems(configProblems(next, new Set(flag.variations.map((v) => v.key)), segments, 'body'));
      return { ...flag, environments: { ...flag.environments, [environment]: next } };
    });
  }

  /**
   * Move to a release stage (`off`, `dogfood`, `N%`, `100%`, `kill`) in one atomic, audited write.
   * A kill of a Git-managed flag also records an incident override in the same transaction: the
   * sync then holds it killed there until it is resumed or a commit changes it (see `resume`).
   */
  async setStage(key: string, environment: string, stageText: string, variation: string | undefined, expected: number | undefined, ctx: AuditContext): Promise<FlagWithIncidents> {
    const stage = parseStage(stageText);
    if (!stage) throw AppError.invalid('body.stage', `unknown stage "${stageText}": use off, dogfood, kill, or a percentage such as 10% or 0.5% (at most 3 decimals)`);
    return this.w.write(ctx, (tx, at) => {
      // The kill switch never waits for approvals: incidents do not wait.
      const allowed = stage === 'kill' ? undefined : assertDirectWriteAllowed(this.w.repos, tx, `moving flag "${key}" to ${stage}`, environment);
      return this.stageIn(tx, at, ctx, key, environment, stage, variation, expected, allowed);
    });
  }

  /**
   * `setStage` inside a transaction the caller opened: a scheduled change claims its schedule in
   * the same transaction, so the move and the claim commit together or not at all.
   */
  async stageIn(
    tx: Tx,
    at: number,
    ctx: AuditContext,
    key: string,
    environment: string,
    stage: ReleaseStage,
    variation: string | undefined,
    expected: number | undefined,
    allowed?: Promise<void>,
  ): Promise<{ value: FlagWithIncidents; change: Change }> {
    const options = { action: stage === 'kill' ? 'flag.killed' : 'flag.stage_changed', environment, evenIfManaged: stage === 'kill', allowed };
    let replaced: FlagEnvironment | undefined;
    const changed = await this.changeIn(tx, at, ctx, key, expected, options, async (flag) => {
      const current = configIn(flag, environment);
      replaced = current;
      const needsDogfood = stage !== 'off' && stage !== 'kill' && !segmentReferences(flag).has(DOGFOOD_SEGMENT);
      if (needsDogfood && !(await this.w.repos.segments.existing(tx, [DOGFOOD_SEGMENT])).has(DOGFOOD_SEGMENT)) {
        throw new AppError('conflict', 'the "internal" (dogfood) segment is missing; recreate it before using release stages');
      }
      const release = releaseVariation(flag, current, variation);
      if (release === undefined || !flag.variations.some((v) => v.key === release)) {
        throw AppError.invalid('body.variation', release === undefined ? 'this flag has no variation to release; name one in "variation"' : `unknown variation "${release}"`);
      }
      if (release === current.offVariation && stage !== 'off' && stage !== 'kill') {
        throw AppError.invalid('body.variation', `"${release}" is the off variation; releasing it would change nothing`);
      }
      return { ...flag, environments: { ...flag.environments, [environment]: applyStage(current, stage, release) } };
    });
    const { managedBy } = changed.value;
    // Only a managed flag can be held (the sync clears overrides with the markers): skip the read otherwise.
    if (managedBy === null) return { value: { ...changed.value, incidents: [] }, change: changed.change };
    if (stage === 'kill') await this.holdAgainstGit(tx, at, ctx, key, environment, managedBy, replaced!);
    return { value: { ...changed.value, incidents: await this.w.repos.incidents.forFlag(tx, key) }, change: changed.change };
  }

  /**
   * The incident override of a kill: who, when, why, against which commit, and what the file asked
   * for (the configuration the kill replaced — the leader corrects it from the file when they
   * differ). A second kill leaves the first one's record as it is: the incident started then.
   */
  private async holdAgainstGit(tx: Tx, at: number, ctx: AuditContext, key: string, environment: string, source: string, replaced: FlagEnvironment): Promise<void> {
    const { repos } = this.w;
    const status = (await repos.state.get(tx, SYNC_STATE_KEY))?.value as Partial<SyncStatus> | undefined;
    const sinceCommit = status?.path === source ? (status.lastCommit ?? null) : null;
    const { guarded: _guarded, ...fileConfig } = replaced;
    await repos.incidents.insert(tx, { flag: key, environment, killedAt: at, killedBy: ctx.actor, message: ctx.message ?? null, sinceCommit, fileConfig });
  }

  /**
   * End the incident override of a kill: the flag+environment gets the Git file's configuration
   * back at once (what the file asks for as the sync last saw it), audited as `flag.resumed`; from
   * then on the sync keeps it in line with the file again. 409 when nothing holds it.
   */
  async resume(key: string, environment: string, expected: number | undefined, ctx: AuditContext): Promise<FlagWithIncidents> {
    return this.w.write(ctx, async (tx, at) => {
      const { repos } = this.w;
      const incident = await repos.incidents.get(tx, key, environment);
      // Taken first, so two resumes of one incident cannot both write: the second finds nothing.
      if (!incident || !(await repos.incidents.delete(tx, key, environment))) {
        const found = await repos.flags.get(tx, key);
        if (!found) throw AppError.notFound('flag', key);
        configIn(found.value, environment);
        throw new AppError(
          'conflict',
          `flag "${key}" is not held by an incident kill in ${environment}: nothing to resume (only a kill of a flag managed by Git holds it; it ends with a resume, or when a commit changes the flag there)`,
        );
      }
      const when = new Date(incident.killedAt).toISOString();
      const message = ctx.message ?? `resumed after the incident kill by ${incident.killedBy} at ${when}: the Git file's configuration applies again`;
      const changed = await this.changeIn(tx, at, ctx, key, expected, { action: 'flag.resumed', environment, evenIfManaged: true, message }, async (flag) => {
        const current = configIn(flag, environment);
        // `guarded` belongs to a running release plan, not to the file: keep whatever the guard set.
        const next: FlagEnvironment = { ...incident.fileConfig, ...(current.guarded !== undefined ? { guarded: current.guarded } : {}) };
        if (sameTargeting(next, current)) return flag;
        const segments = await this.segmentsOf(tx, flag, { environments: { [environment]: next } });
        const problem = configProblems(next, new Set(flag.variations.map((v) => v.key)), segments, `environments.${environment}`)[0];
        if (problem) throw new AppError('conflict', `cannot put back the Git file's configuration of flag "${key}" in ${environment}: ${problem.path}: ${problem.message}; fix the file, or change the flag once the sync is off`);
        return { ...flag, environments: { ...flag.environments, [environment]: next } };
      });
      return { value: { ...changed.value, incidents: await repos.incidents.forFlag(tx, key) }, change: changed.change };
    });
  }

  async remove(key: string, expected: number | undefined, ctx: AuditContext): Promise<Managed<Flag>> {
    return this.w.write(ctx, async (tx) => {
      const found = await this.w.repos.flags.get(tx, key);
      if (!found) throw AppError.notFound('flag', key);
      if (found.managedBy !== null) throw lockedByGit('flag', key, found.managedBy);
      const before = found.value;
      checkVersion(`flag "${key}"`, before, expected);
      if (!(await this.w.repos.flags.delete(tx, key, before.version))) throw new RowMoved(`flag "${key}"`);
      await assertPrerequisites(this.w.repos, tx, prerequisiteCheck(before, null));
      const change: Change = { audit: [{ action: 'flag.deleted', resourceType: 'flag', resourceKey: key, environment: null, before, after: null }], sdk: flagPatches(before, null) };
      return { value: found, change };
    });
  }

  /** Restore a flag to its state before an audit entry (deleting it if the entry created it). */
  async revert(auditId: number, expected: number | undefined, ctx: AuditContext): Promise<Managed<Flag> | null> {
    // A snapshot may predate the pattern check: it must pass it to come back. (Audit entries never change.)
    const logged = await this.w.read((tx) => this.w.repos.audit.get(tx, auditId));
    const snapshot = logged?.resourceType === 'flag' ? ((logged.before ?? null) as Flag | null) : null;
    if (snapshot) await assertSafePatterns(Object.entries(snapshot.environments).flatMap(([env, config]) => matchesPatterns(config.rules, `environments.${env}.`)));
    return this.w.write(ctx, async (tx, at) => {
      const { repos } = this.w;
      const entry = await repos.audit.get(tx, auditId);
      if (!entry) throw AppError.notFound('audit entry', auditId);
      if (entry.resourceType !== 'flag') throw new AppError('bad_request', `audit entry ${auditId} is about a ${entry.resourceType}; only flag changes can be reverted`);
      const key = entry.resourceKey;
      const snapshot = (entry.before ?? null) as Flag | null;
      const found = await repos.flags.get(tx, key);
      if (found?.managedBy) throw lockedByGit('flag', key, found.managedBy);
      if (found && expected === undefined) {
        throw new AppError('precondition_required', `send flag "${key}"'s current version ("version" or If-Match) so the revert cannot overwrite a newer change`);
      }
      if (!found && !snapshot) throw new AppError('conflict', `flag "${key}" does not exist and did not exist before entry ${auditId}: nothing to revert`);
      const before = found?.value ?? null;
      if (before) checkVersion(`flag "${key}"`, before, expected);
      const message = ctx.message ?? `revert of audit entry #${auditId}`;
      let after: Flag | null = null;
      if (snapshot === null) {
        if (!(await repos.flags.delete(tx, key, before!.version))) throw new RowMoved(`flag "${key}"`);
      } else {
        // Environments created since keep (or get) a configuration; deleted ones are dropped.
        const environmentKeys = (await repos.environments.list(tx)).map((e) => e.key);
        const environments: Record<string, FlagEnvironment> = {};
        for (const env of environmentKeys) {
          environments[env] = ownEntry(snapshot.environments, env) ?? (before && ownEntry(before.environments, env)) ?? defaultFlagEnvironment(key, snapshot.variations, snapshot.type);
        }
        const restored = { ...snapshot, key, environments };
        assertNoProblems(flagProblems(restored, await this.segmentsOf(tx, before ?? { environments: {} }, restored)));
        if (before) {
          after = stampNext(restored, before, ctx.actor, at);
          if (!(await repos.flags.update(tx, after, before.version, changedConfigs(before, after)))) throw new RowMoved(`flag "${key}"`);
        } else {
          after = { ...restored, version: snapshot.version + 1, updatedAt: at, updatedBy: ctx.actor };
          await repos.flags.insert(tx, after);
        }
      }
      await assertPrerequisites(repos, tx, prerequisiteCheck(before, after));
      const change: Change = { audit: [{ action: 'flag.reverted', resourceType: 'flag', resourceKey: key, environment: null, before, after, message }], sdk: flagPatches(before, after) };
      return { value: after ? { value: after, managedBy: null } : null, change };
    });
  }
}

/** `flag.stage_changed` for webhooks: what moved, where, to which stage, by whom (the entry of one of `actions`). */
export function stageChangedWebhooks(audit: readonly AuditEntry[], flag: Flag, environment: string, actions: ReadonlySet<string> = STAGE_ACTIONS) {
  const entry = audit.find((a) => a.resourceType === 'flag' && a.resourceKey === flag.key && actions.has(a.action));
  if (!entry) return [];
  const config = ownEntry(flag.environments, environment);
  return [
    webhookMessage('flag.stage_changed', entry.at, {
      flag: flag.key,
      environment,
      action: entry.action,
      actor: entry.actor,
      source: entry.source,
      message: entry.message,
      stage: config ? deriveStage(config) : null,
      auditId: entry.id,
    }),
  ];
}

/** Every flag has a configuration in every environment, so a missing one means no such environment. */
export function configIn(flag: Flag, environment: string): FlagEnvironment {
  const config = ownEntry(flag.environments, environment);
  if (!config) throw AppError.notFound('environment', environment);
  return config;
}

function definedOnly<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}
