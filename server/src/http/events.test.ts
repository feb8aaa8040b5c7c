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
    hub.publish({ type: 'flag', key: 'a', environment: null, version: 2, actor: 'x' });
    unsubscribe();
    hub.publish({ type: 'flag', key: 'a', environment: null, version: 3, actor: 'x' });
    expect(seen.map((e) => `${e.key}@${e.version}`)).toEqual(['a@2']);
    expect(hub.size).toBe(0);
  });

  it.each([
    { name: 'a flag change carries its environment, the new version and the actor', audit: entry({}), expected: { type: 'flag', key: 'checkout', environment: 'production', version: 3, actor: 'ana' } },
    { name: 'a change to the flag as a whole names no environment', audit: entry({ action: 'flag.updated', environment: null }), expected: { type: 'flag', key: 'checkout', environment: null, version: 3, actor: 'ana' } },
    { name: 'a release plan change names its flag and environment', audit: entry({ action: 'release.paused', after: null }), expected: { type: 'flag', key: 'checkout', environment: 'production', version: null, actor: 'ana' } },
    { name: 'a deleted flag has no version', audit: entry({ action: 'flag.deleted', environment: null, after: null }), expected: { type: 'flag', key: 'checkout', environment: null, version: null, actor: 'ana' } },
    { name: 'a segment change', audit: entry({ resourceType: 'segment', resourceKey: 'internal', environment: null, after: { version: 7 } }), expected: { type: 'segment', key: 'internal', environment: null, version: 7, actor: 'ana' } },
    { name: 'an environment has no version for the page', audit: entry({ resourceType: 'environment', resourceKey: 'qa', environment: 'qa', after: { version: 40 } }), expected: { type: 'environment', key: 'qa', environment: 'qa', version: null, actor: 'ana' } },
    { name: 'tokens are not shown live', audit: entry({ resourceType: 'api_token', resourceKey: '4' }), expected: null },
  ])('$name', ({ audit, expected }) => {
    expect(eventOfWrite(feedWrite(audit))).toEqual(expected);
  });
});
