import type { AuditEntry, AuditQuery } from '../domain/audit.js';
import type { Writes } from './write.js';

/** The audit log, newest first. (Reverting an entry is a flag change: see FlagsService.revert.) */
export class AuditService {
  constructor(private readonly w: Writes) {}

  list(query: AuditQuery): Promise<AuditEntry[]> {
    return this.w.read((tx) => this.w.repos.audit.list(tx, query));
  }
}
