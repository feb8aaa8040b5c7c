import { describe, expect, it } from 'vitest';
import { promoteDisabledReason, promoteLabel, promotionUrl, type PromotionPreview } from './compare.js';

const preview = (extra: Partial<PromotionPreview> = {}): PromotionPreview => ({
  flag: 'checkout',
  version: 7,
  managedBy: null,
  from: { key: 'staging', name: 'Staging', critical: false },
  to: { key: 'production', name: 'Production', critical: true },
  upToDate: false,
  summary: 'off → 10%',
  stage: { before: 'off', after: '10%' },
  changes: [{ field: 'on', kind: 'changed', label: 'On / off', before: 'off', after: 'on', text: 'On / off: off → on' }],
  kept: [],
  blockers: [],
  ...extra,
});
const selection = { flag: 'checkout', a: 'staging', b: 'production' };

describe('the Promote button', () => {
  it('is enabled for an editor when there is something to promote and nothing refuses it', () => {
    expect(promoteDisabledReason(preview(), selection, undefined)).toBeUndefined();
    expect(promoteLabel('Staging', 'Production')).toBe('Promote Staging → Production');
  });

  it('says why it is disabled: the role first, then the same environment, loading, nothing to do, a refusal', () => {
    const viewer = 'Read-only: your token has the viewer role.';
    expect(promoteDisabledReason(preview(), selection, viewer)).toBe(viewer);
    expect(promoteDisabledReason(preview(), { ...selection, b: 'staging' }, undefined)).toBe('Choose two different environments to promote between.');
    expect(promoteDisabledReason(undefined, selection, undefined)).toMatch(/^Loading/);
    expect(promoteDisabledReason(preview({ upToDate: true }), selection, undefined)).toBe("Production already has Staging's targeting: nothing to promote.");
    const killed = preview({ blockers: [{ code: 'target_killed', message: 'flag "checkout" is killed in Production: a promotion does not lift a kill' }] });
    expect(promoteDisabledReason(killed, selection, undefined)).toBe('Flag "checkout" is killed in Production: a promotion does not lift a kill.');
  });

  it('previews through an encoded URL', () => {
    expect(promotionUrl('a/b', 'staging', 'prod uction')).toBe('/api/flags/a%2Fb/promote?from=staging&to=prod+uction');
  });
});
