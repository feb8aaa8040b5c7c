import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, snapshotDatabase, type ErrorBody, type TestContext } from '../testing/test-app.js';

/**
 * A GitOps apply may change only what the caller's role may change through the REST API:
 * flags and segments need editor, environments admin (README "Access"). Every kind of change a
 * file can make, for every role: allowed, or 403 with the database exactly as before.
 */

type Role = 'viewer' | 'editor' | 'admin';
type Doc = {
  environments: Record<string, { name?: string; critical?: boolean }>;
  segments: Record<string, Record<string, unknown>>;
  flags: Record<string, Record<string, unknown>>;
};

/** The bootstrap's environments exactly as they are, plus a segment and two flags. */
const base = (): Doc => ({
  environments: { development: { name: 'Development' }, staging: { name: 'Staging' }, production: { name: 'Production', critical: true } },
  segments: { beta: { included: ['ann'] } },
  flags: {
    checkout: { description: 'The new checkout', environments: { production: { stage: '10%' }, development: { stage: 'off' } } },
    doomed: {},
  },
});

interface ChangeKind {
  name: string;
  edit: (doc: Doc) => void;
  prune?: boolean;
  /** The role the equivalent REST call needs. */
  needs: Role;
  /** Named in the 403 of a role below `needs`. */
  named: RegExp;
}

const KINDS: ChangeKind[] = [
  { name: 'create a flag', edit: (d) => void (d.flags.fresh = {}), needs: 'editor', named: /create flag "fresh"/ },
  { name: "change a flag's metadata", edit: (d) => void (d.flags.checkout!.description = 'Changed'), needs: 'editor', named: /update flag "checkout"/ },
  { name: "change a flag's targeting in a critical environment", edit: (d) => void ((d.flags.checkout!.environments as Record<string, unknown>).production = { stage: '50%' }), needs: 'editor', named: /update flag "checkout"/ },
  { name: "change a flag's targeting in another environment", edit: (d) => void ((d.flags.checkout!.environments as Record<string, unknown>).development = { stage: '100%' }), needs: 'editor', named: /update flag "checkout"/ },
  { name: 'delete a flag (prune)', edit: (d) => void delete d.flags.doomed, prune: true, needs: 'editor', named: /delete flag "doomed"/ },
  { name: 'create a segment', edit: (d) => void (d.segments.gamma = { included: ['bob'] }), needs: 'editor', named: /create segment "gamma"/ },
  { name: 'change a segment', edit: (d) => void (d.segments.beta!.included = ['ann', 'carol']), needs: 'editor', named: /update segment "beta"/ },
  { name: 'delete a segment (prune)', edit: (d) => void delete d.segments.beta, prune: true, needs: 'editor', named: /delete segment "beta"/ },
  { name: 'create an environment', edit: (d) => void (d.environments.qa = {}), needs: 'admin', named: /create environment "qa"/ },
  { name: 'rename an environment', edit: (d) => void (d.environments.production!.name = 'Prod'), needs: 'admin', named: /update environment "production" \(name\)/ },
  { name: "clear an environment's critical mark", edit: (d) => void (d.environments.production!.critical = false), needs: 'admin', named: /update environment "production" \(critical\)/ },
  { name: 'mark an environment critical', edit: (d) => void (d.environments.staging!.critical = true), needs: 'admin', named: /update environment "staging" \(critical\)/ },
  {
    name: 'the escalation of issue 11: rename production, clear its critical mark, create an environment, change a flag',
    edit: (d) => {
      d.environments.production = { name: 'Sandbox', critical: false };
      d.environments.scratch = {};
      d.flags.checkout!.description = 'Changed';
    },
    needs: 'admin',
    named: /update environment "production" \(name, critical\); create environment "scratch"/,
  },
];

const RANK: Record<Role, number> = { viewer: 0, editor: 1, admin: 2 };
const CASES = KINDS.flatMap((kind) =>
  (['viewer', 'editor', 'admin'] as const).map((role) => ({ ...kind, role, allowed: RANK[role] >= RANK[kind.needs] && role !== 'viewer' })),
);

let t: TestContext;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

async function apply(token: string, document: Doc, extra: Record<string, unknown> = {}) {
  return t.request(token, { method: 'POST', url: '/api/gitops/apply', payload: { document, filename: 'flags.json', ...extra } });
}

beforeEach(async () => {
  // Back to the base state (as admin): whatever the previous case applied is undone.
  const res = await apply(t.adminToken, base(), { prune: true });
  expect(res.statusCode, res.body).toBe(200);
  const again = await apply(t.adminToken, base(), { prune: true, dryRun: true });
  expect(again.json().changes).toEqual([]);
});

describe('GitOps apply enforces the roles of the equivalent REST calls', () => {
  it.each(CASES)('$role: $name → $allowed', async ({ role, edit, prune = false, allowed, named }) => {
    const document = base();
    edit(document);
    const before = await snapshotDatabase(t.db);
    const res = await apply(t.tokens[role], document, { prune });
    if (allowed) {
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ applied: true });
      return;
    }
    expect(res.statusCode, res.body).toBe(403);
    expect(res.json<ErrorBody>().error.code).toBe('forbidden');
    if (role === 'editor') expect(res.json<ErrorBody>().error.message).toMatch(named);
    expect(await snapshotDatabase(t.db)).toEqual(before);
  });

  it('names every refused change, not the allowed ones, and refuses a dry run the same way', async () => {
    const document = base();
    document.environments.production = { name: 'Sandbox', critical: false };
    // (Not an environment a case above created: a file cannot delete environments, so they stay.)
    document.environments['brand-new'] = {};
    document.flags.fresh = {};
    for (const dryRun of [false, true]) {
      const res = await apply(t.tokens.editor, document, { dryRun });
      expect(res.statusCode).toBe(403);
      const { error } = res.json<ErrorBody & { error: { details: { refused: { change: string; requiredRole: string }[] } } }>();
      expect(error.details.refused).toEqual([
        { change: 'update environment "production" (name, critical)', requiredRole: 'admin' },
        { change: 'create environment "brand-new"', requiredRole: 'admin' },
      ]);
      expect(error.message).toMatch(/^the editor role may not make these 2 changes \(they need the admin role, as through the REST API\)/);
      expect(error.message).toMatch(/nothing was applied$/);
    }
    // The same environment change through the REST API is refused the same way.
    expect((await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/environments/production', payload: { name: 'Sandbox' } })).statusCode).toBe(403);
  });
});
