import { describe, expect, it } from 'vitest';
import { defaultFlagEnvironment } from '../../domain/flag-defaults.js';
import type { FlagEnvironment } from '../../domain/flags.js';
import { applyStage } from '../../domain/stages.js';
import type { FlagView } from '../command.js';
import { approvalText, planCreate, planKill, planStage, withStage, type StageFacts } from './plans.js';

const BOOL = [
  { key: 'off', value: false },
  { key: 'on', value: true },
];

function flagWith(configs: Record<string, FlagEnvironment>, extra: Partial<FlagView> = {}): FlagView {
  return {
    key: 'new-checkout',
    name: 'New checkout',
    description: '',
    tags: [],
    owner: '',
    type: 'boolean',
    variations: BOOL,
    archived: false,
    clientVisible: false,
    version: 7,
    createdAt: '2026-12-01T00:00:00.000Z',
    updatedAt: '2026-12-01T00:00:00.000Z',
    updatedBy: 'admin',
    managedBy: null,
    environments: Object.fromEntries(Object.entries(configs).map(([env, config]) => [env, withStage(config)])),
    ...extra,
  };
}

const off = defaultFlagEnvironment('new-checkout', BOOL, 'boolean');
const at10 = applyStage(off, '10%', 'on');
const flag = flagWith({ staging: at10, production: off });
const editor: StageFacts = { role: 'editor', approvalsRequired: null, changeRequest: false, expectedVersion: null };

describe('planCreate', () => {
  const facts = { role: 'editor' as const, exists: false, environments: ['staging', 'production'] };

  it('shows the flag as the server would create it: defaults filled, off in every environment', () => {
    const plan = planCreate({ key: 'promo', type: 'boolean', tags: ['a', 'a', 'b'] }, facts);
    expect(plan.refusal).toBeNull();
    expect(plan.after).toMatchObject({ key: 'promo', name: 'promo', description: '', tags: ['a', 'b'], variations: BOOL, clientVisible: false, archived: false });
    const after = plan.after as { environments: Record<string, { stage: string; on: boolean; salt: string }> };
    expect(Object.keys(after.environments)).toEqual(['staging', 'production']);
    expect(after.environments.production).toMatchObject({ stage: 'off', on: false, salt: 'promo' });
    expect(plan.summary.join('\n')).toContain('off in every environment (staging, production), serving "off" to everyone');
  });

  it.each([
    { name: 'a viewer token', input: { key: 'promo', type: 'boolean' as const }, facts: { ...facts, role: 'viewer' as const }, refusal: /needs the editor role; this API token is a viewer token/ },
    { name: 'an existing key', input: { key: 'promo', type: 'boolean' as const }, facts: { ...facts, exists: true }, refusal: /flag "promo" already exists/ },
    { name: 'a string flag without variations', input: { key: 'promo', type: 'string' as const }, facts, refusal: /^variations: a string flag needs its variations/ },
    {
      name: 'values of the wrong type',
      input: { key: 'promo', type: 'number' as const, variations: [{ key: 'a', value: 1 }, { key: 'b', value: 'two' }] },
      facts,
      refusal: /variations\[1\]\.value: a number flag needs number values; got "two"/,
    },
    { name: 'duplicate variation keys', input: { key: 'promo', type: 'json' as const, variations: [{ key: 'a', value: 1 }, { key: 'a', value: 2 }] }, facts, refusal: /duplicate variation key "a"/ },
  ])('refuses $name as the server would', ({ input, facts: given, refusal }) => {
    const plan = planCreate(input, given);
    expect(plan.refusal).toMatch(refusal);
    expect(plan.after).toBeNull();
  });
});

describe('planStage', () => {
  it('moves the stage with the domain rules and shows what users get before and after', () => {
    const plan = planStage(flag, 'staging', '50%', undefined, editor);
    expect(plan.refusal).toBeNull();
    expect(plan.summary).toEqual([
      'Would move "new-checkout" in staging: 10% → 50%.',
      'Serving: internal: on; others: on 10% / off 90% → internal: on; others: on 50% / off 50%.',
    ]);
    expect(plan.after).toMatchObject({ stage: '50%', on: true, salt: 'new-checkout' });
  });

  it('says when the flag is already at that stage', () => {
    expect(planStage(flag, 'staging', '10%', undefined, editor).summary[0]).toContain('(already there: the targeting would not change)');
  });

  it.each([
    { name: 'an unknown stage', stage: 'half', facts: editor, refusal: /^stage: unknown stage "half"/ },
    { name: 'a viewer token', stage: '50%', facts: { ...editor, role: 'viewer' as const }, refusal: /needs the editor role/ },
    { name: 'an unknown environment', stage: '50%', env: 'moon', facts: editor, refusal: /environment "moon" not found \(404\); flag "new-checkout" has environments: staging, production/ },
    { name: 'an approval policy', stage: '50%', facts: { ...editor, approvalsRequired: 2 }, refusal: /needs 2 approvals \(409 approval_required\).*changeRequest: true/ },
    { name: 'a stale version', stage: '50%', facts: { ...editor, expectedVersion: 6 }, refusal: /at version 7, not 6 \(409 version_conflict\)/ },
    { name: 'an unknown variation', stage: '50%', variation: 'maybe', facts: editor, refusal: /^variation: unknown variation "maybe"; the flag has off, on/ },
    { name: 'releasing the off variation', stage: '50%', variation: 'off', facts: editor, refusal: /"off" is the off variation/ },
  ])('refuses $name as the server would', ({ stage, env, variation, facts, refusal }) => {
    const plan = planStage(flag, env ?? 'staging', stage, variation, facts);
    expect(plan.refusal).toMatch(refusal);
    expect(plan.after).toBeNull();
  });

  it('refuses a Git-managed flag, unless it only proposes a change request', () => {
    const managed = { ...flag, managedBy: 'flags.yaml' };
    expect(planStage(managed, 'staging', '50%', undefined, editor).refusal).toMatch(/managed by Git \(flags\.yaml\) \(423 locked\)/);
    expect(planStage(managed, 'staging', '50%', undefined, { ...editor, changeRequest: true }).refusal).toBeNull();
  });

  it('with changeRequest, opens a request instead of writing, with or without a policy', () => {
    const governed = planStage(flag, 'production', 'dogfood', undefined, { ...editor, approvalsRequired: 1, changeRequest: true });
    expect(governed.summary[0]).toBe('Would open a change request to move "new-checkout" in production: off → dogfood (it needs 1 approval); nothing changes until it is approved and applied.');
    const free = planStage(flag, 'production', 'dogfood', undefined, { ...editor, changeRequest: true });
    expect(free.summary[0]).toContain('no approval policy applies here');
  });

  it('treats "kill" as the kill switch: no approval needed', () => {
    const plan = planStage(flag, 'staging', 'kill', undefined, { ...editor, approvalsRequired: 1 });
    expect(plan.refusal).toBeNull();
    expect(plan.summary[0]).toContain('Would kill "new-checkout" in staging: 10% → kill');
  });
});

describe('planKill', () => {
  it('turns the flag off and keeps its rules to restore', () => {
    const plan = planKill(flag, 'staging', 'editor');
    expect(plan.after).toMatchObject({ on: false, killed: true, stage: 'kill', killedFrom: '10%', rules: at10.rules });
    expect(plan.summary[0]).toBe('Would kill "new-checkout" in staging: 10% → kill; everyone would get "off" at once.');
  });

  it('says when it is already killed, and what a kill of a Git-managed flag does', () => {
    const killed = flagWith({ staging: applyStage(at10, 'kill', 'on') }, { managedBy: 'flags.yaml' });
    const text = planKill(killed, 'staging', 'admin').summary.join('\n');
    expect(text).toContain('already killed');
    expect(text).toContain('managed by Git (flags.yaml): the kill would hold it killed here');
  });

  it('refuses a viewer token and an unknown environment', () => {
    expect(planKill(flag, 'staging', 'viewer').refusal).toMatch(/the kill switch needs the editor role/);
    expect(planKill(flag, 'dev', 'editor').refusal).toMatch(/environment "dev" not found/);
  });
});

describe('approvalText', () => {
  it('names the policy and the way forward', () => {
    expect(approvalText('a', 'production', '10%', 1)).toBe(
      'moving flag "a" to 10% in production needs 1 approval (409 approval_required): production has an approval policy. Call stage_flag again with changeRequest: true to open a change request that reviewers approve (dashboard or "switchyard requests approve"); the kill switch (kill_flag) always works directly.',
    );
  });
});
