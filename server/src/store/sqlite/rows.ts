import type { Flag, FlagEnvironment } from '../../domain/flags.js';
import type { Segment } from '../../domain/segments.js';
import type { auditLog, environments, flags, segments } from './schema.js';
import type { AuditEntry, AuditResource, AuditSource, Environment } from '../ports.js';

/** Row ↔ domain mapping for the SQLite store. JSON columns were validated by zod before writing. */

export function toEnvironment(row: typeof environments.$inferSelect): Environment {
  return {
    key: row.key,
    name: row.name,
    critical: row.critical,
    sortOrder: row.sortOrder,
    version: row.version,
    createdAt: row.createdAt,
  };
}

export function toFlag(row: typeof flags.$inferSelect, configs: Record<string, FlagEnvironment>): Flag {
  return {
    key: row.key,
    name: row.name,
    description: row.description,
    tags: row.tags,
    owner: row.owner,
    type: row.type as Flag['type'],
    variations: row.variations as Flag['variations'],
    archived: row.archived,
    version: row.version,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    updatedBy: row.updatedBy,
    environments: configs,
  };
}

export function flagColumns(flag: Flag) {
  return {
    key: flag.key,
    name: flag.name,
    description: flag.description,
    tags: flag.tags,
    owner: flag.owner,
    type: flag.type,
    variations: flag.variations,
    archived: flag.archived,
    version: flag.version,
    createdAt: flag.createdAt,
    updatedAt: flag.updatedAt,
    updatedBy: flag.updatedBy,
  };
}

export function toSegment(row: typeof segments.$inferSelect): Segment {
  return {
    key: row.key,
    name: row.name,
    description: row.description,
    unitAttribute: row.unitAttribute,
    included: row.included,
    excluded: row.excluded,
    rules: row.rules as Segment['rules'],
    version: row.version,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    updatedBy: row.updatedBy,
  };
}

export function segmentColumns(segment: Segment) {
  return {
    key: segment.key,
    name: segment.name,
    description: segment.description,
    unitAttribute: segment.unitAttribute,
    included: segment.included,
    excluded: segment.excluded,
    rules: segment.rules,
    version: segment.version,
    createdAt: segment.createdAt,
    updatedAt: segment.updatedAt,
    updatedBy: segment.updatedBy,
  };
}

export function toAuditEntry(row: typeof auditLog.$inferSelect): AuditEntry {
  return {
    id: row.id,
    at: row.at,
    actor: row.actor,
    action: row.action,
    resourceType: row.resourceType as AuditResource,
    resourceKey: row.resourceKey,
    environment: row.environment,
    before: row.before ?? null,
    after: row.after ?? null,
    source: row.source as AuditSource,
    message: row.message,
    commit: row.commit,
  };
}
