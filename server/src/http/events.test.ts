import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '../domain/audit.js';
import { feedWrite } from '../domain/feed.js';
import { DashboardEvents, eventOfWrite, type DashboardEvent } from '../services/dashboard-events.js';

function entry(overrides: Partial<AuditEntry>): AuditEntry {
  return {
    id: 1,
    at: 0,
    actor: 'ana',
    action: 'flag.stage_changed',
    resourceType: 'flag',
    resourceKey: 'checkout',
    environment: 'production',
    before: { version: 2 },
    after: { version: 3 },
    source: 'api',
    message: null,
    commit: null,
    ...overrides,
  };
}

describe('dashboard events', () => {
  it('delivers every published event to every subscriber until it unsubscribes', () => {
    const hub = new DashboardEvents();
    const seen: DashboardEvent[] = [];
    const unsubscribe = hub.subscribe((e) => seen.push(e));
    hub.publish({ type: 'flag', key: 'a', version: 2, actor: 'x' });
    unsubscribe();
    hub.publish({ type: 'flag', key: 'a', version: 3, actor: 'x' });
    expect(seen.map((e) => `${e.key}@${e.version}`)).toEqual(['a@2']);
    expect(hub.size).toBe(0);
  });

  it.each([
    { name: 'a flag change carries the new version and the actor', audit: entry({}), expected: { type: 'flag', key: 'checkout', version: 3, actor: 'ana' } },
    { name: 'a deleted flag has no version', audit: entry({ action: 'flag.deleted', after: null }), expected: { type: 'flag', key: 'checkout', version: null, actor: 'ana' } },
    { name: 'a segment change', audit: entry({ resourceType: 'segment', resourceKey: 'internal', after: { version: 7 } }), expected: { type: 'segment', key: 'internal', version: 7, actor: 'ana' } },
    { name: 'an environment has no version for the page', audit: entry({ resourceType: 'environment', resourceKey: 'qa', after: { version: 40 } }), expected: { type: 'environment', key: 'qa', version: null, actor: 'ana' } },
    { name: 'tokens are not shown live', audit: entry({ resourceType: 'api_token', resourceKey: '4' }), expected: null },
  ])('$name', ({ audit, expected }) => {
    expect(eventOfWrite(feedWrite(audit))).toEqual(expected);
  });
});
