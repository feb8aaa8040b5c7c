import { describe, expect, it } from 'vitest';
import { DashboardEvents, changedResources, resourceOfRequest, type DashboardEvent } from './events.hub.js';

describe('dashboard events hub', () => {
  it('delivers each (type, key, version) once', () => {
    const hub = new DashboardEvents();
    const seen: DashboardEvent[] = [];
    hub.subscribe((e) => seen.push(e));
    hub.publish({ type: 'flag', key: 'a', version: 2, actor: 'x' });
    hub.publish({ type: 'flag', key: 'a', version: 2, actor: 'x' });
    hub.publish({ type: 'flag', key: 'a', version: 3, actor: 'x' });
    hub.publish({ type: 'environment', key: 'prod', version: null, actor: 'x' });
    hub.publish({ type: 'environment', key: 'prod', version: null, actor: 'x' });
    expect(seen.map((e) => `${e.key}@${e.version}`)).toEqual(['a@2', 'a@3', 'prod@null', 'prod@null']);
  });

  it('names the resources of a rule-set change', () => {
    const change = { environment: 'production', version: 9, flags: { a: null }, segments: {} };
    expect(changedResources(change)).toEqual([{ type: 'flag', key: 'a', version: null }]);
  });

  it('maps write routes to resources', () => {
    const cases = [
      { name: 'stage', url: '/api/flags/:key/environments/:environment/stage', params: { key: 'f', environment: 'p' }, body: {}, expected: { type: 'flag', key: 'f' } },
      { name: 'create', url: '/api/flags', params: {}, body: { key: 'new' }, expected: { type: 'flag', key: 'new' } },
      { name: 'segment', url: '/api/segments/:key', params: { key: 'internal' }, body: {}, expected: { type: 'segment', key: 'internal' } },
      { name: 'environment', url: '/api/environments/:environment', params: { environment: 'qa' }, body: {}, expected: { type: 'environment', key: 'qa' } },
      { name: 'tokens', url: '/api/tokens', params: {}, body: { name: 'x' }, expected: null },
    ];
    for (const c of cases) expect(resourceOfRequest(c.url, c.params, c.body), c.name).toEqual(c.expected);
  });
});
