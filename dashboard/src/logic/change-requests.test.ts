import { describe, expect, it } from 'vitest';
import type { ApprovalPolicy, ChangeRequest } from '../api/types.js';
import {
  approvalProgress,
  describePolicy,
  diffSides,
  movedResources,
  parseStatusFilter,
  policyBody,
  policyNotice,
  requestControls,
  segmentPolicy,
  staleChanges,
  toPolicyDraft,
} from './change-requests.js';

const policy = (over: Partial<ApprovalPolicy> = {}): ApprovalPolicy => ({
  environment: 'production',
  required: true,
  approvals: 1,
  approverRoles: ['editor', 'admin'],
  adminBypass: false,
  version: 1,
  updatedAt: null,
  updatedBy: null,
  ...over,
});

const request = (over: Partial<ChangeRequest> = {}): ChangeRequest => ({
  id: 7,
  title: 'Move new-checkout to 10% in production',
  description: '',
  environment: 'production',
  status: 'open',
  author: 'alice',
  createdAt: '2026-12-03T10:00:00.000Z',
  updatedAt: '2026-12-03T10:00:00.000Z',
  version: 1,
  changes: [{ type: 'stage', flag: 'new-checkout', environment: 'production', stage: '10%', baseVersion: 4, diff: [{ field: 'stage', before: 'off', after: '10%', text: 'stage off → 10%' }] }],
  approvals: [],
  approvalsNeeded: 1,
  approvalsCounted: 0,
  policy: { required: true, approvals: 1, approverRoles: ['editor', 'admin'], adminBypass: false },
  comments: [],
  resolvedBy: null,
  resolvedAt: null,
  reason: null,
  bypassed: false,
  ...over,
});

describe('status filter', () => {
  const cases = [
    { name: 'none: open', value: null, expected: 'open' },
    { name: 'a status', value: 'applied', expected: 'applied' },
    { name: 'all', value: 'all', expected: 'all' },
    { name: 'unknown: open', value: 'merged', expected: 'open' },
  ];
  for (const c of cases) it(c.name, () => expect(parseStatusFilter(c.value)).toBe(c.expected));
});

describe('what a policy says before the click', () => {
  it('says a change request opens, with the number of approvals', () => {
    expect(policyNotice(policy(), 'Production')).toBe('Production requires 1 approval: this opens a change request instead of changing the flag.');
    expect(policyNotice(policy({ approvals: 2 }), 'Production', 'the segment')).toBe('Production requires 2 approvals: this opens a change request instead of changing the segment.');
  });
  it('says nothing where writes are direct', () => {
    expect(policyNotice(undefined, 'Staging')).toBeUndefined();
    expect(policyNotice(policy({ required: false }), 'Staging')).toBeUndefined();
  });
  it('describes a policy in one line', () => {
    expect(describePolicy(policy({ adminBypass: true }))).toBe('1 approval from editor or admin, not the author; admins may bypass with a reason. The kill switch always works directly.');
    expect(describePolicy(policy({ required: false }))).toBe('No approval needed: changes are written directly.');
  });
  it('segment edits fall under the strictest of every required policy', () => {
    const policies = [policy({ approvals: 1, adminBypass: true }), policy({ environment: 'staging', approvals: 3, adminBypass: false }), policy({ environment: 'dev', required: false, approvals: 5 })];
    expect(segmentPolicy(policies)).toEqual({ required: true, approvals: 3, adminBypass: false, environments: ['production', 'staging'] });
    expect(segmentPolicy([policy({ required: false })])).toBeUndefined();
  });
});

describe('which actions a person gets', () => {
  const editor = { name: 'bob', role: 'editor' as const };
  it('the author may withdraw and not approve or reject; apply waits for approvals', () => {
    const c = requestControls(request(), { name: 'alice', role: 'editor' });
    expect(c.approve).toEqual({ show: true, disabledReason: 'You wrote this request: someone else approves it.' });
    expect(c.reject.show).toBe(false);
    expect(c.withdraw.show).toBe(true);
    expect(c.apply).toEqual({ show: true, disabledReason: 'It needs 1 more approval (0 of 1).' });
    expect(c.rebase.show).toBe(false);
  });
  it('someone else approves or rejects, but may not withdraw', () => {
    const c = requestControls(request(), editor);
    expect(c.approve).toEqual({ show: true });
    expect(c.reject.show).toBe(true);
    expect(c.withdraw.show).toBe(false);
  });
  it('a role the policy does not allow cannot approve', () => {
    const c = requestControls(request({ policy: { required: true, approvals: 1, approverRoles: ['admin'], adminBypass: false } }), editor);
    expect(c.approve.disabledReason).toBe('Approvals here must come from admin; you are editor.');
    expect(c.reject.show).toBe(false);
  });
  it('approved: apply is enabled; approving twice is not', () => {
    const c = requestControls(request({ status: 'approved', approvalsCounted: 1, approvals: [{ actor: 'bob', role: 'editor', at: '2026-12-03T10:05:00.000Z' }] }), editor);
    expect(c.apply).toEqual({ show: true });
    expect(c.approve.disabledReason).toBe('You have already approved this request.');
  });
  it('admins bypass only where the policy allows it, and only while approvals are missing', () => {
    const admin = { name: 'root', role: 'admin' as const };
    expect(requestControls(request(), admin).bypass.show).toBe(false);
    const allowing = request({ policy: { required: true, approvals: 1, approverRoles: ['editor', 'admin'], adminBypass: true } });
    expect(requestControls(allowing, admin).bypass).toEqual({ show: true });
    expect(requestControls(allowing, editor).bypass.show).toBe(false);
    expect(requestControls({ ...allowing, approvalsCounted: 1, status: 'approved' }, admin).bypass.show).toBe(false);
    expect(requestControls(request(), admin).withdraw.show).toBe(true);
  });
  it('a stale request offers Rebase', () => {
    expect(requestControls(request(), editor, true).rebase).toEqual({ show: true });
  });
  it('viewers and finished requests get no actions', () => {
    for (const c of [requestControls(request(), { name: 'v', role: 'viewer' }), requestControls(request({ status: 'applied' }), editor), requestControls(request({ status: 'withdrawn' }), editor)]) {
      expect(Object.values(c).some((control) => control.show)).toBe(false);
    }
  });
  it('progress reads as approvals', () => {
    expect(approvalProgress(request())).toBe('0 of 1 approval');
    expect(approvalProgress(request({ approvalsNeeded: 2, approvalsCounted: 1 }))).toBe('1 of 2 approvals');
    expect(approvalProgress(request({ policy: { required: false, approvals: 1, approverRoles: [], adminBypass: false } }))).toBe('No approval needed');
  });
});

describe('diffs and conflicts', () => {
  it('turns diff lines into the snapshots DiffTable compares', () => {
    expect(diffSides([{ field: 'stage', before: 'off', after: '10%', text: '' }, { field: 'rules', before: [], after: [{ id: 'dogfood' }], text: '' }])).toEqual({
      before: { stage: 'off', rules: [] },
      after: { stage: '10%', rules: [{ id: 'dogfood' }] },
    });
  });
  it('reads what moved from an apply conflict, and nothing from other errors', () => {
    const changed = [{ type: 'flag', key: 'new-checkout', what: 'flag "new-checkout"', baseVersion: 4, currentVersion: 5, by: 'carol' }];
    expect(movedResources({ code: 'conflict', details: { changed } })).toEqual(changed);
    expect(movedResources({ code: 'conflict' })).toBeUndefined();
    expect(movedResources({ code: 'forbidden', details: { changed } })).toBeUndefined();
  });
  it('finds changes made against an older version', () => {
    expect(staleChanges(request(), new Map([['flag:new-checkout', 4]]))).toEqual([]);
    expect(staleChanges(request(), new Map([['flag:new-checkout', 5]]))).toEqual(['flag:new-checkout']);
    expect(staleChanges(request(), new Map([['flag:new-checkout', null]]))).toEqual(['flag:new-checkout']);
    expect(staleChanges(request(), new Map())).toEqual([]);
  });
});

describe('the policy form', () => {
  it('sends the policy with the version read', () => {
    expect(policyBody({ ...toPolicyDraft(policy()), approvals: ' 2 ' }, 3)).toEqual({ body: { required: true, approvals: 2, approverRoles: ['editor', 'admin'], adminBypass: false, version: 3 } });
    expect(policyBody(toPolicyDraft(policy({ required: false })), 0)).toEqual({ body: { required: false } });
  });
  const bad = [
    { name: 'zero approvals', draft: { approvals: '0' }, field: 'approvals' },
    { name: 'six approvals', draft: { approvals: '6' }, field: 'approvals' },
    { name: 'a fraction', draft: { approvals: '1.5' }, field: 'approvals' },
    { name: 'empty', draft: { approvals: '' }, field: 'approvals' },
    { name: 'no role', draft: { approverRoles: [] }, field: 'approverRoles' },
  ] as const;
  for (const c of bad) {
    it(`refuses ${c.name}, naming the field`, () => {
      expect(policyBody({ ...toPolicyDraft(policy()), ...c.draft, approverRoles: 'approverRoles' in c.draft ? [] : ['editor'] }, 1)).toMatchObject({ field: c.field });
    });
  }
});
