import { describe, expect, it } from 'vitest';
import type { RequestedChange } from '../api/types.js';
import { baseText, changeTitle, diffSides, movedResources, resourceKey } from './change-requests.js';

/** How the change-request page renders a change that starts or resumes a release plan. */
const release = (over: Partial<RequestedChange> = {}): RequestedChange => ({
  type: 'release',
  flag: 'new-checkout',
  environment: 'production',
  action: 'start',
  planVersion: 2,
  plan: { version: 2, status: 'ready', strategy: 'guarded', steps: [5, 25, 50, 100], guarded: true, currentStep: null },
  baseVersion: 7,
  diff: [
    { field: 'releasePlan', before: 'ready', after: 'running', text: 'start the guarded release plan (plan version 2, ready): 5% → 25% → 50% → 100%, guarded' },
    { field: 'stage', before: 'off', after: '5%', text: 'stage off → 5%' },
  ],
  ...over,
});

describe('release-plan change requests', () => {
  it('titles say what a change does (to the plan, the stage, the targeting)', () => {
    expect(changeTitle(release())).toBe('Start the release plan of new-checkout');
    expect(changeTitle(release({ action: 'resume' }))).toBe('Resume the release plan of new-checkout');
    expect(changeTitle({ type: 'stage', flag: 'new-checkout', stage: '10%' })).toBe('Move new-checkout to 10%');
    expect(changeTitle({ type: 'targeting', flag: 'new-checkout' })).toBe('Targeting of new-checkout');
    expect(changeTitle({ type: 'targeting', flag: 'new-checkout', promotedFrom: 'staging' })).toBe('Promote new-checkout from staging');
  });

  it('name both versions it is pinned to, with the steps (the resumed one marked)', () => {
    expect(baseText(release())).toBe('Made against flag version 7 and release plan version 2 (guarded: 5% → 25% → 50% → 100%). Applying refuses if either changed since.');
    const paused = release({ action: 'resume', plan: { version: 4, status: 'paused', strategy: 'rolling', steps: [25, 50, 100], guarded: false, currentStep: 1 }, planVersion: 4 });
    expect(baseText(paused)).toBe('Made against flag version 7 and release plan version 4 (rolling: 25% → [50%] → 100%). Applying refuses if either changed since.');
    expect(baseText({ type: 'stage', baseVersion: 3 })).toBe('Made against version 3.');
  });

  it('its diff lines render as before/after, the plan first; it touches its flag', () => {
    expect(diffSides(release().diff)).toEqual({ before: { releasePlan: 'ready', stage: 'off' }, after: { releasePlan: 'running', stage: '5%' } });
    expect(resourceKey(release())).toBe('flag:new-checkout');
  });

  it("an apply's conflict naming the edited plan is understood", () => {
    const moved = { type: 'release-plan', key: 'new-checkout', what: 'the release plan of flag "new-checkout" in production', baseVersion: 2, currentVersion: 3, by: 'admin' };
    expect(movedResources({ code: 'conflict', details: { changed: [moved] } })).toEqual([moved]);
  });
});
