import { AppError } from '../domain/errors.js';
import type { ManagedResources } from './gitops/managed.js';
import type { RuleSetCache } from './rulesets.js';
import type { AuditContext, Store, Write } from '../store/ports.js';
import { DOGFOOD_SEGMENT } from '../domain/stages.js';
import type { Segment } from '../domain/segments.js';

type SegmentInput = Omit<Segment, 'version' | 'createdAt' | 'updatedAt' | 'updatedBy'>;

export class SegmentsService {
  constructor(
    private readonly store: Store,
    private readonly ruleSets: RuleSetCache,
    /** Segments a synced Git file manages are read-only here (423). */
    private readonly managed?: ManagedResources,
  ) {}

  private publish<T>(write: Write<T>): T {
    this.ruleSets.publish(write);
    return write.value;
  }

  list(): Promise<Segment[]> {
    return this.store.listSegments();
  }

  async get(key: string): Promise<Segment> {
    const segment = await this.store.getSegment(key);
    if (!segment) throw AppError.notFound('segment', key);
    return segment;
  }

  async create(input: SegmentInput, audit: AuditContext): Promise<Segment> {
    this.managed?.assertSegmentWritable(input.key);
    checkLists(input);
    return this.publish(await this.store.createSegment(input, audit));
  }

  async update(key: string, expectedVersion: number | undefined, patch: Partial<SegmentInput>, audit: AuditContext): Promise<Segment> {
    this.managed?.assertSegmentWritable(key);
    const write = await this.store.updateSegment(key, expectedVersion, (current) => {
      const next = { ...current, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) };
      checkLists(next);
      return next;
    }, audit);
    return this.publish(write);
  }

  async remove(key: string, expectedVersion: number | undefined, audit: AuditContext): Promise<Segment> {
    this.managed?.assertSegmentWritable(key);
    if (key === DOGFOOD_SEGMENT) throw new AppError('conflict', `"${DOGFOOD_SEGMENT}" holds the dogfood users that release stages use; it cannot be deleted`);
    return this.publish(await this.store.deleteSegment(key, expectedVersion, audit));
  }
}

function checkLists(segment: Pick<Segment, 'included' | 'excluded' | 'rules'>): void {
  const excluded = new Set(segment.excluded);
  const both = segment.included.find((id) => excluded.has(id));
  if (both !== undefined) throw AppError.invalid('body.included', `"${both}" is both included and excluded`);
  const ids = new Set<string>();
  segment.rules.forEach((rule, i) => {
    if (ids.has(rule.id)) throw AppError.invalid(`body.rules[${i}].id`, `duplicate rule id "${rule.id}"`);
    ids.add(rule.id);
  });
}
