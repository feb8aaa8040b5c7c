import type { FlagConfig, Segment as RuleSetSegment } from '@switchyard/sdk';
import type { Db } from './connection.js';
import { AppError } from '../../domain/errors.js';
import { defaultFlagEnvironment } from '../../domain/flag-defaults.js';
import type { Flag } from '../../domain/flags.js';
import { sameForSdks, toFlagConfig, toRuleSetSegment } from '../../domain/ruleset.js';
import type { Segment } from '../../domain/segments.js';
import type { AuditContext, AuditEntry, AuditResource, BatchOp, BatchResult, RuleSetChange } from '../ports.js';
import { flagFromRow, flagParams, type EnvironmentRow, type FlagRow } from './statements.js';

/**
 * Many flag, segment and environment writes as ONE transaction (flags as code): every version
 * check, every write and every audit entry commit together or not at all. Each environment's
 * rule-set version is bumped once for the whole batch, so SDKs get one patch, not thousands.
 */
export function applyBatchSqlite(db: Db, ops: readonly BatchOp[], ctx: AuditContext, now: () => number): BatchResult {
  if (ops.length === 0) return { changes: [], audit: [] };
  const c = db.$client;
  const q = {
    environments: c.prepare<[], EnvironmentRow>('SELECT * FROM environments ORDER BY sort_order, id'),
    insertEnvironment: c.prepare<[string, string, number, number]>('INSERT INTO environments (key, name, critical, sort_order) VALUES (?, ?, ?, ?)'),
    updateEnvironment: c.prepare<[string, number, string]>('UPDATE environments SET name = ?, critical = ? WHERE key = ?'),
    flagIds: c.prepare<[], { id: number; key: string; type: string; variations: string }>('SELECT id, key, type, variations FROM flags'),
    flagByKey: c.prepare<[string], FlagRow>('SELECT * FROM flags WHERE key = ?'),
    flagConfigs: c.prepare<[number], { env: string; config: string }>('SELECT e.key AS env, fe.config AS config FROM flag_environments fe JOIN environments e ON e.id = fe.environment_id WHERE fe.flag_id = ?'),
    insertFlag: c.prepare<unknown[], { id: number }>('INSERT INTO flags (key, name, description, tags, owner, type, variations, archived, version, created_at, updated_at, updated_by) VALUES (@key, @name, @description, @tags, @owner, @type, @variations, @archived, @version, @createdAt, @updatedAt, @updatedBy) RETURNING id'),
    updateFlag: c.prepare('UPDATE flags SET name = @name, description = @description, tags = @tags, owner = @owner, type = @type, variations = @variations, archived = @archived, version = @version, updated_at = @updatedAt, updated_by = @updatedBy WHERE id = @id'),
    deleteFlag: c.prepare<[number]>('DELETE FROM flags WHERE id = ?'),
    upsertConfig: c.prepare<[number, number, string]>('INSERT INTO flag_environments (flag_id, environment_id, config) VALUES (?, ?, ?) ON CONFLICT (flag_id, environment_id) DO UPDATE SET config = excluded.config'),
    segmentByKey: c.prepare<[string], Record<string, unknown>>('SELECT * FROM segments WHERE key = ?'),
    insertSegment: c.prepare('INSERT INTO segments (key, name, description, unit_attribute, included, excluded, rules, version, created_at, updated_at, updated_by) VALUES (@key, @name, @description, @unitAttribute, @included, @excluded, @rules, @version, @createdAt, @updatedAt, @updatedBy)'),
    updateSegment: c.prepare('UPDATE segments SET name = @name, description = @description, unit_attribute = @unitAttribute, included = @included, excluded = @excluded, rules = @rules, version = @version, updated_at = @updatedAt, updated_by = @updatedBy WHERE key = @key'),
    deleteSegment: c.prepare<[string]>('DELETE FROM segments WHERE key = ?'),
    segmentUsers: c.prepare<[string], { key: string }>(
      "SELECT DISTINCT f.key AS key FROM flag_environments fe JOIN flags f ON f.id = fe.flag_id, json_each(fe.config, '$.rules') r, json_each(r.value, '$.clauses') cl, json_each(cl.value, '$.values') v WHERE json_extract(cl.value, '$.operator') IN ('in_segment', 'not_in_segment') AND v.value = ? LIMIT 10",
    ),
    bump: c.prepare<[number], { version: number }>('UPDATE environments SET version = version + 1 WHERE id = ? RETURNING version'),
    audit: c.prepare<unknown[], { id: number }>('INSERT INTO audit_log (at, actor, action, resource_type, resource_key, environment, before, after, source, message, "commit") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id'),
  };

  return c.transaction((): BatchResult => {
    const entries: AuditEntry[] = [];
    const audit = (action: string, resourceType: AuditResource, resourceKey: string, before: unknown, after: unknown) => {
      const at = now();
      const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));
      const { id } = q.audit.get(at, ctx.actor, action, resourceType, resourceKey, null, json(before), json(after), ctx.source, ctx.message ?? null, ctx.commit ?? null)!;
      entries.push({ id, at, actor: ctx.actor, action, resourceType, resourceKey, environment: null, before: before ?? null, after: after ?? null, source: ctx.source, message: ctx.message ?? null, commit: ctx.commit ?? null });
    };
    const conflict = (what: string, current: { version: number; updatedBy?: unknown; updatedAt?: unknown }, expected: number) => {
      if (current.version !== expected) {
        throw AppError.versionConflict(what, current.version, String(current.updatedBy ?? ''), typeof current.updatedAt === 'number' ? new Date(current.updatedAt).toISOString() : undefined);
      }
    };

    // Environments first: flags written below get a configuration in new environments too.
    for (const op of ops) {
      if (op.kind === 'environment.create') {
        const existing = q.environments.all();
        if (existing.some((e) => e.key === op.key)) throw new AppError('conflict', `environment "${op.key}" already exists`);
        q.insertEnvironment.run(op.key, op.name, op.critical ? 1 : 0, Math.max(-1, ...existing.map((e) => e.sort_order)) + 1);
        const envId = q.environments.all().find((e) => e.key === op.key)!.id;
        for (const f of q.flagIds.all()) q.upsertConfig.run(f.id, envId, JSON.stringify(defaultFlagEnvironment(f.key, JSON.parse(f.variations) as Flag['variations'], f.type)));
        audit('environment.created', 'environment', op.key, null, { key: op.key, name: op.name, critical: op.critical });
      } else if (op.kind === 'environment.update') {
        const before = q.environments.all().find((e) => e.key === op.key);
        if (!before) throw AppError.notFound('environment', op.key);
        q.updateEnvironment.run(op.name, op.critical ? 1 : 0, op.key);
        audit('environment.updated', 'environment', op.key, { key: op.key, name: before.name, critical: before.critical === 1 }, { key: op.key, name: op.name, critical: op.critical });
      }
    }
    const envs = q.environments.all();
    const flagPatches = new Map<string, Record<string, FlagConfig | null>>(envs.map((e) => [e.key, {}]));
    const segmentPatches: Record<string, RuleSetSegment | null> = {};
    const noteFlag = (before: Flag | null, after: Flag | null) => {
      for (const env of envs) {
        const a = before ? toFlagConfig(before, env.key) : null;
        const b = after ? toFlagConfig(after, env.key) : null;
        if (!sameForSdks(a, b)) flagPatches.get(env.key)![(after ?? before)!.key] = b;
      }
    };
    const loadFlag = (key: string) => {
      const row = q.flagByKey.get(key);
      return row ? flagFromRow(row, q.flagConfigs.all(row.id)) : undefined;
    };
    const writeConfigs = (flagId: number, flag: Flag, previous?: Flag) => {
      for (const env of envs) {
        const config = flag.environments[env.key] ?? previous?.environments[env.key] ?? defaultFlagEnvironment(flag.key, flag.variations, flag.type);
        const json = JSON.stringify(config);
        if (previous?.environments[env.key] !== undefined && JSON.stringify(previous.environments[env.key]) === json) continue;
        q.upsertConfig.run(flagId, env.id, json);
      }
    };
    const segmentOf = (row: Record<string, unknown>): Segment => ({
      key: row.key as string, name: row.name as string, description: row.description as string, unitAttribute: row.unit_attribute as string,
      included: JSON.parse(row.included as string) as string[], excluded: JSON.parse(row.excluded as string) as string[], rules: JSON.parse(row.rules as string) as Segment['rules'],
      version: row.version as number, createdAt: row.created_at as number, updatedAt: row.updated_at as number, updatedBy: row.updated_by as string,
    });
    const segmentParams = (s: Segment) => ({ ...s, included: JSON.stringify(s.included), excluded: JSON.stringify(s.excluded), rules: JSON.stringify(s.rules) });

    for (const op of ops) {
      const at = now();
      if (op.kind === 'segment.create' || op.kind === 'segment.update') {
        const row = q.segmentByKey.get(op.segment.key);
        if (op.kind === 'segment.create' && row) throw new AppError('conflict', `segment "${op.segment.key}" was created by someone else since the plan; run diff again`);
        if (op.kind === 'segment.update' && !row) throw new AppError('conflict', `segment "${op.segment.key}" was deleted by someone else since the plan; run diff again`);
        const before = row ? segmentOf(row) : null;
        if (before && op.kind === 'segment.update') conflict(`segment "${before.key}"`, before, op.expectedVersion);
        const after: Segment = { ...op.segment, version: (before?.version ?? 0) + 1, createdAt: before?.createdAt ?? at, updatedAt: at, updatedBy: ctx.actor };
        (before ? q.updateSegment : q.insertSegment).run(segmentParams(after));
        segmentPatches[after.key] = toRuleSetSegment(after);
        audit(before ? 'segment.updated' : 'segment.created', 'segment', after.key, before, after);
      } else if (op.kind === 'flag.create' || op.kind === 'flag.update') {
        const found = loadFlag(op.flag.key);
        if (op.kind === 'flag.create' && found) throw new AppError('conflict', `flag "${op.flag.key}" was created by someone else since the plan; run diff again`);
        if (op.kind === 'flag.update' && !found) throw new AppError('conflict', `flag "${op.flag.key}" was deleted by someone else since the plan; run diff again`);
        const { id, ...before } = found ?? { id: undefined };
        const previous = found ? (before as Flag) : undefined;
        if (previous && op.kind === 'flag.update') conflict(`flag "${previous.key}"`, previous, op.expectedVersion);
        const after: Flag = { ...op.flag, version: (previous?.version ?? 0) + 1, createdAt: previous?.createdAt ?? at, updatedAt: at, updatedBy: ctx.actor };
        let flagId = id;
        if (flagId === undefined) flagId = q.insertFlag.get({ ...flagParams(0, after), key: after.key, createdAt: after.createdAt })!.id;
        else q.updateFlag.run(flagParams(flagId, after));
        writeConfigs(flagId, after, previous);
        noteFlag(previous ?? null, after);
        audit(previous ? 'flag.updated' : 'flag.created', 'flag', after.key, previous ?? null, after);
      } else if (op.kind === 'flag.delete') {
        const found = loadFlag(op.key);
        if (!found) throw new AppError('conflict', `flag "${op.key}" was deleted by someone else since the plan; run diff again`);
        const { id, ...before } = found;
        conflict(`flag "${op.key}"`, before, op.expectedVersion);
        q.deleteFlag.run(id);
        noteFlag(before, null);
        audit('flag.deleted', 'flag', op.key, before, null);
      }
    }
    // Segments go last: a flag deleted above may have been their last user.
    for (const op of ops) {
      if (op.kind !== 'segment.delete') continue;
      const row = q.segmentByKey.get(op.key);
      if (!row) throw new AppError('conflict', `segment "${op.key}" was deleted by someone else since the plan; run diff again`);
      const before = segmentOf(row);
      conflict(`segment "${op.key}"`, before, op.expectedVersion);
      const users = q.segmentUsers.all(op.key).map((u) => u.key);
      if (users.length > 0) throw new AppError('conflict', `segment "${op.key}" is still used by flag(s): ${users.join(', ')}; remove those rules first`);
      q.deleteSegment.run(op.key);
      segmentPatches[op.key] = null;
      audit('segment.deleted', 'segment', op.key, before, null);
    }

    const changes: RuleSetChange[] = [];
    const segmentsChanged = Object.keys(segmentPatches).length > 0;
    for (const env of envs) {
      const flags = flagPatches.get(env.key)!;
      if (!segmentsChanged && Object.keys(flags).length === 0) continue;
      changes.push({ environment: env.key, version: q.bump.get(env.id)!.version, flags, segments: segmentPatches });
    }
    return { changes, audit: entries };
  })();
}
