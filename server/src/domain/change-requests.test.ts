import { describe, expect, it } from 'vitest';
import { describeAuditEntry } from './audit-text.js';
import {
  NO_POLICY,
  applyRefusal,
  approvalRefusal,
  countedApprovals,
  effectivePolicy,
  governedBy,
  isApproved,
  rebaseRefusal,
  rejectionRefusal,
  renderDiff,
  withdrawalRefusal,
  type ChangeRequest,
  type Person,
  type PolicySettings,
} from './change-requests.js';

const author: Person = { actor: 'alice', tokenId: 1, role: 'editor' };
const viewer: Person = { actor: 'vic', tokenId: 2, role: 'viewer' };
const editor: Person = { actor: 'bob', tokenId: 3, role: 'editor' };
const admin: Person = { actor: 'ada', tokenId: 4, role: 'admin' };
const people = { author, viewer, editor, admin };

const policy = (settings: Partial<PolicySettings> = {}): PolicySettings => ({ required: true, approvals: 1, approverRoles: ['editor', 'admin'], adminBypass: false, ...settings });

function request(extra: Partial<ChangeRequest> = {}): Pick<ChangeRequest, 'author' | 'authorTokenId' | 'status' | 'approvals' | 'environment' | 'changes'> {
  return { author: author.actor, authorTokenId: author.tokenId, status: 'open', approvals: [], environment: 'production', changes: [], ...extra };
}

describe('who may approve: policy × role', () => {
  const cases: { name: string; policy: PolicySettings; allowed: Record<keyof typeof people, boolean> }[] = [
    { name: 'editors and admins approve', policy: policy(), allowed: { author: false, viewer: false, editor: true, admin: true } },
    { name: 'admins only', policy: policy({ approverRoles: ['admin'] }), allowed: { author: false, viewer: false, editor: false, admin: true } },
    { name: 'editors only', policy: policy({ approverRoles: ['editor'] }), allowed: { author: false, viewer: false, editor: true, admin: false } },
    { name: 'no policy: anyone who edits but the author', policy: NO_POLICY, allowed: { author: false, viewer: false, editor: true, admin: true } },
  ];
  for (const c of cases) {
    for (const [who, person] of Object.entries(people) as [keyof typeof people, Person][]) {
      it(`${c.name}: ${who} ${c.allowed[who] ? 'may' : 'may not'} approve`, () => {
        const refusal = approvalRefusal(c.policy, request(), person);
        if (c.allowed[who]) expect(refusal).toBeUndefined();
        else expect(refusal?.code).toBe('forbidden');
      });
    }
  }

  it('an author is recognised by token and by name (a second token of the same person)', () => {
    expect(approvalRefusal(policy(), request(), { ...author, tokenId: 99, role: 'admin' })?.message).toContain('authors cannot approve');
    expect(approvalRefusal(policy(), request(), { ...admin, tokenId: author.tokenId })?.message).toContain('authors cannot approve');
  });

  it('one approval per person; none on a closed request', () => {
    const approved = request({ approvals: [{ ...editor, at: 1 }] });
    expect(approvalRefusal(policy(), approved, editor)).toEqual({ code: 'conflict', message: 'bob has already approved this request' });
    for (const status of ['applied', 'rejected', 'withdrawn'] as const) expect(approvalRefusal(policy(), request({ status }), editor)?.code).toBe('conflict');
  });
});

describe('when a request may be applied', () => {
  const twoAdmins = policy({ approvals: 2, approverRoles: ['admin'], adminBypass: true });
  const admin2: Person = { actor: 'max', tokenId: 5, role: 'admin' };

  it('counts approvals from distinct non-authors with an allowed role', () => {
    const r = request({ approvals: [{ ...editor, at: 1 }, { ...admin, at: 2 }, { ...author, at: 3 }] });
    expect(countedApprovals(twoAdmins, r).map((a) => a.actor)).toEqual(['ada']);
    expect(isApproved(twoAdmins, r)).toBe(false);
    expect(isApproved(twoAdmins, { ...r, approvals: [...r.approvals, { ...admin2, at: 4 }] })).toBe(true);
    expect(isApproved(NO_POLICY, request())).toBe(true);
  });

  const table: { name: string; policy: PolicySettings; approvals: Person[]; who: Person; bypass?: string; expected: 'ok' | 'forbidden' | 'conflict' }[] = [
    { name: 'approved: the author applies', policy: policy(), approvals: [editor], who: author, expected: 'ok' },
    { name: 'approved: a viewer may not apply', policy: policy(), approvals: [editor], who: viewer, expected: 'forbidden' },
    { name: 'not approved yet', policy: policy(), approvals: [], who: author, expected: 'conflict' },
    { name: 'one of two approvals', policy: twoAdmins, approvals: [admin], who: author, expected: 'conflict' },
    { name: 'admin bypass allowed, with a reason', policy: twoAdmins, approvals: [], who: admin, bypass: 'outage', expected: 'ok' },
    { name: 'an editor cannot bypass', policy: twoAdmins, approvals: [], who: editor, bypass: 'outage', expected: 'forbidden' },
    { name: 'bypass not allowed by the policy', policy: policy(), approvals: [], who: admin, bypass: 'outage', expected: 'forbidden' },
    { name: 'no policy: applied directly', policy: NO_POLICY, approvals: [], who: author, expected: 'ok' },
  ];
  for (const c of table) {
    it(c.name, () => {
      const refusal = applyRefusal(c.policy, request({ approvals: c.approvals.map((p, i) => ({ ...p, at: i })) }), c.who, c.bypass);
      expect(refusal?.code ?? 'ok').toBe(c.expected);
    });
  }

  it('reject, withdraw and rebase', () => {
    expect(rejectionRefusal(policy(), request(), author)?.message).toContain('withdraw');
    expect(rejectionRefusal(policy({ approverRoles: ['admin'] }), request(), editor)?.code).toBe('forbidden');
    expect(rejectionRefusal(policy(), request(), editor)).toBeUndefined();
    expect(withdrawalRefusal(request(), editor)?.code).toBe('forbidden');
    expect(withdrawalRefusal(request(), author)).toBeUndefined();
    expect(withdrawalRefusal(request(), admin)).toBeUndefined();
    expect(rebaseRefusal(request(), viewer)?.code).toBe('forbidden');
    expect(rebaseRefusal(request({ status: 'applied' }), author)?.code).toBe('conflict');
  });
});

describe('policies that govern a request', () => {
  it('a segment change is governed by every environment; the strictest combination applies', () => {
    const segmentChange = { type: 'segment' as const, segment: 'internal', patch: {}, baseVersion: 1, before: {}, after: {} };
    expect(governedBy(request(), ['development', 'production'])).toEqual(['production']);
    expect(governedBy(request({ environment: 'development', changes: [segmentChange] }), ['development', 'staging'])).toEqual(['development', 'staging']);
    const combined = effectivePolicy([NO_POLICY, policy({ approvals: 1, adminBypass: true }), policy({ approvals: 3, approverRoles: ['admin'], adminBypass: false })]);
    expect(combined).toEqual({ required: true, approvals: 3, approverRoles: ['admin'], adminBypass: false });
    expect(effectivePolicy([NO_POLICY])).toEqual(NO_POLICY);
    // Policies with no role in common: nobody can approve, only a bypass (where all allow it) applies.
    expect(effectivePolicy([policy({ approverRoles: ['admin'] }), policy({ approverRoles: ['editor'] })]).approverRoles).toEqual([]);
  });
});

describe('renderDiff', () => {
  it('a stage move leads with the stage, then the fields that differ', () => {
    const before = { on: false, killed: false, offVariation: 'off', targets: [], rules: [], defaultServe: { variation: 'off' }, salt: 'f', bucketBy: 'userId' };
    const after = { ...before, on: true, defaultServe: { variation: 'on' } };
    const lines = renderDiff({ type: 'stage', before, after });
    expect(lines.map((l) => l.field)).toEqual(['stage', 'on', 'defaultServe']);
    expect(lines[0]!.text).toBe('stage off → 100%');
    expect(lines[2]!.text).toBe('defaultServe off → on');
    expect(renderDiff({ type: 'segment', before: { included: ['a'] }, after: { included: ['a', 'b'] } })[0]).toMatchObject({ field: 'included' });
  });
});

describe('audit sentences', () => {
  const entry = { resourceType: 'change_request' as const, resourceKey: '3', environment: 'production', source: 'api' as const, message: null, commit: null };
  const name = (key: string) => (key === 'production' ? 'Production' : key);
  it('says what happened to which request', () => {
    const after = { title: 'Launch checkout', environment: 'production', bypassed: false };
    expect(describeAuditEntry({ ...entry, action: 'change_request.approved', before: after, after }, name)).toBe('approved change request #3 "Launch checkout" in Production');
    expect(describeAuditEntry({ ...entry, action: 'change_request.applied', before: after, after: { ...after, bypassed: true } }, name)).toBe('applied change request #3 "Launch checkout" in Production without its approvals (admin bypass)');
    const policy = { resourceType: 'environment' as const, resourceKey: 'production', environment: 'production', source: 'api' as const, message: null, commit: null, action: 'environment.approval_policy_changed', before: null };
    expect(describeAuditEntry({ ...policy, after: { required: true, approvals: 2, adminBypass: true } }, name)).toBe('required 2 approvals for changes in production (admins may bypass)');
    expect(describeAuditEntry({ ...policy, after: { required: false, approvals: 1 } }, name)).toBe('turned off required approvals in production');
  });
});
