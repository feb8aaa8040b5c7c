import { describe, expect, it } from 'vitest';
import { describeAuditEntry, environmentNames, MAX_SUMMARY, type DescribableEntry } from './audit-text.js';
import { BOOLEAN_VARIATIONS, defaultFlagEnvironment } from './flag-defaults.js';
import type { Flag, FlagEnvironment } from './flags.js';
import { applyStage } from './stages.js';

const names = environmentNames([
  { key: 'production', name: 'Production' },
  { key: 'staging', name: 'Staging' },
]);

const off = defaultFlagEnvironment('checkout', BOOLEAN_VARIATIONS, 'boolean');
const at = (stage: Parameters<typeof applyStage>[1], config: FlagEnvironment = off) => applyStage(config, stage, 'on');
const proRule = { id: 'pro', description: 'pro users', clauses: [{ attribute: 'plan', operator: 'in' as const, values: ['pro'] }], serve: { variation: 'on' } };

function flag(fields: Partial<Flag> = {}, environments: Record<string, FlagEnvironment> = { production: off, staging: off }): Flag {
  return { key: 'checkout', name: 'checkout', description: '', tags: [], owner: '', type: 'boolean', variations: BOOLEAN_VARIATIONS, archived: false, clientVisible: false, environments, version: 1, createdAt: 0, updatedAt: 0, updatedBy: 'ana', ...fields };
}

function entry(fields: Partial<DescribableEntry>): DescribableEntry {
  return { action: 'flag.updated', resourceType: 'flag', resourceKey: 'checkout', environment: null, before: null, after: null, source: 'api', message: null, commit: null, ...fields };
}

const segment = (fields: Record<string, unknown> = {}) => ({ key: 'internal', name: 'Internal users', description: '', unitAttribute: 'userId', included: ['a'], excluded: [], rules: [], ...fields });

const cases: { name: string; entry: DescribableEntry; expected: string }[] = [
  {
    name: 'a scheduled apply of a change request',
    entry: entry({ action: 'schedule.created', resourceType: 'schedule', resourceKey: '4', environment: 'production', after: { flagKey: 'checkout', environment: 'production', at: Date.UTC(2026, 11, 8, 9), action: { type: 'change_request', requestId: 12 } } }),
    expected: 'scheduled apply of change request #12 in Production for 2026-12-08 09:00 UTC',
  },
  {
    name: 'a stage move, with the environment display name',
    entry: entry({ action: 'flag.stage_changed', environment: 'production', before: flag({}, { production: at('10%'), staging: off }), after: flag({}, { production: at('100%'), staging: off }) }),
    expected: '10% → 100% in Production',
  },
  {
    name: 'a stage move next to another rule still reads as the stage',
    entry: entry({
      action: 'flag.stage_changed',
      environment: 'production',
      before: flag({}, { production: at('dogfood', { ...off, rules: [proRule] }), staging: off }),
      after: flag({}, { production: at('50%', { ...off, rules: [proRule] }), staging: off }),
    }),
    expected: 'dogfood → 50% in Production',
  },
  {
    name: 'a kill says where the flag was',
    entry: entry({ action: 'flag.killed', environment: 'production', before: flag({}, { production: at('10%'), staging: off }), after: flag({}, { production: at('kill', at('10%')), staging: off }) }),
    expected: 'killed in Production (was 10%)',
  },
  {
    name: 'releasing a killed flag',
    entry: entry({ action: 'flag.stage_changed', environment: 'staging', before: flag({}, { production: off, staging: at('kill', at('10%')) }), after: flag({}, { production: off, staging: at('10%') }) }),
    expected: 'killed → 10% in Staging',
  },
  {
    name: 'a targeting edit names the rule by its description',
    entry: entry({ action: 'flag.environment_updated', environment: 'staging', before: flag(), after: flag({}, { production: off, staging: { ...off, rules: [proRule] } }) }),
    expected: 'added rule "pro users" in Staging',
  },
  {
    name: 'individual targets, removed rules and the default rule',
    entry: entry({
      action: 'flag.environment_updated',
      environment: 'staging',
      before: flag({}, { production: off, staging: { ...off, on: true, rules: [proRule], defaultServe: { rollout: { variations: [{ variation: 'on', weight: 30_000 }, { variation: 'off', weight: 70_000 }], salt: 'x' } } } }),
      after: flag({}, { production: off, staging: { ...off, on: true, targets: [{ variation: 'on', values: ['u1', 'u2', 'u3'] }], defaultServe: { rollout: { variations: [{ variation: 'on', weight: 40_000 }, { variation: 'off', weight: 60_000 }], salt: 'x' } } } }),
    }),
    expected: 'removed rule "pro users", targeted 3 users at "on", default on 30% / off 70% → on 40% / off 60% in Staging',
  },
  {
    name: 'metadata: rename, tags, owner, archive',
    entry: entry({ before: flag({ name: 'Checkout', tags: ['web', 'old'], owner: '' }), after: flag({ name: 'New checkout', tags: ['web', 'beta'], owner: 'payments', archived: true }) }),
    expected: 'renamed "Checkout" → "New checkout", added tag "beta", removed tag "old", set the owner to "payments", and 1 more',
  },
  {
    name: 'visibility to client keys and variations',
    entry: entry({ before: flag(), after: flag({ clientVisible: true, variations: [...BOOLEAN_VARIATIONS.slice(0, 1), { key: 'on', value: true, name: 'Yes' }] }) }),
    expected: 'changed variation "on", made visible to client keys',
  },
  { name: 'a flag created under its own name', entry: entry({ action: 'flag.created', after: flag() }), expected: 'created flag (boolean)' },
  { name: 'a flag created with a display name', entry: entry({ action: 'flag.created', after: flag({ name: 'New checkout' }) }), expected: 'created flag "New checkout" (boolean)' },
  { name: 'a flag deleted', entry: entry({ action: 'flag.deleted', before: flag() }), expected: 'deleted flag' },
  {
    name: 'a revert names the entry it undid and what it set back',
    entry: entry({ action: 'flag.reverted', environment: 'production', message: 'revert of audit entry #12: too early', before: flag({}, { production: at('100%'), staging: off }), after: flag({}, { production: at('10%'), staging: off }) }),
    expected: 'reverted #12: 100% → 10% in Production',
  },
  { name: 'a revert of a deletion', entry: entry({ action: 'flag.reverted', message: 'revert of audit entry #3', after: flag() }), expected: 'reverted #3: recreated the flag' },
  {
    name: 'a Git sync of a flag, with its commit',
    entry: entry({ source: 'gitops', commit: '0123456789abcdef', before: flag({}, { production: off, staging: at('dogfood') }), after: flag({}, { production: off, staging: at('100%') }) }),
    expected: 'Git sync: dogfood → 100% in Staging (commit 0123456)',
  },
  {
    name: 'a Git sync changing several environments',
    entry: entry({ source: 'gitops', before: flag(), after: flag({ owner: 'web' }, { production: at('10%'), staging: at('dogfood') }) }),
    expected: 'Git sync: set the owner to "web"; off → 10% in Production; off → dogfood in Staging',
  },
  {
    name: 'blue/green',
    entry: entry({ action: 'flag.switched', environment: 'production', before: flag({}, { production: { ...off, on: true, defaultServe: { variation: 'off' } }, staging: off }), after: flag({}, { production: { ...off, on: true, defaultServe: { variation: 'on' } }, staging: off }) }),
    expected: 'switched to "on" in Production (was "off")',
  },
  { name: 'a release plan step', entry: entry({ action: 'release.paused', environment: 'production', after: { errorRate: 0.2 } }), expected: 'paused the release plan in Production' },
  { name: 'a release plan saved', entry: entry({ action: 'release.plan_saved', environment: 'staging', after: { strategy: 'guarded' } }), expected: 'saved the release plan in Staging' },
  { name: 'segment members added', entry: entry({ action: 'segment.updated', resourceType: 'segment', resourceKey: 'internal', before: segment(), after: segment({ included: ['a', 'b', 'c', 'd'] }) }), expected: 'added 3 members to internal' },
  { name: 'segment members removed', entry: entry({ action: 'segment.updated', resourceType: 'segment', resourceKey: 'internal', before: segment({ included: ['a', 'b'] }), after: segment({ included: [] }) }), expected: 'removed 2 members from internal' },
  {
    name: 'several segment changes list after its key',
    entry: entry({ action: 'segment.updated', resourceType: 'segment', resourceKey: 'internal', before: segment(), after: segment({ included: [], excluded: ['x'], name: 'Staff' }) }),
    expected: 'segment internal: removed 1 member, excluded 1 user, renamed "Internal users" → "Staff"',
  },
  { name: 'a segment created', entry: entry({ action: 'segment.created', resourceType: 'segment', resourceKey: 'beta', after: segment({ key: 'beta', name: 'beta' }) }), expected: 'created segment beta with 1 member' },
  { name: 'a segment revert', entry: entry({ action: 'segment.reverted', resourceType: 'segment', resourceKey: 'internal', message: 'revert of audit entry #7', before: segment({ included: ['a', 'b'] }), after: segment() }), expected: 'reverted #7: removed 1 member from internal' },
  { name: 'an API token created', entry: entry({ action: 'api_token.created', resourceType: 'api_token', resourceKey: '4', after: { id: 4, name: 'ci-bot', role: 'editor' } }), expected: 'created API token "ci-bot" (editor)' },
  { name: 'an API token revoked', entry: entry({ action: 'api_token.revoked', resourceType: 'api_token', resourceKey: '4', before: { name: 'ci-bot', role: 'editor' }, after: { name: 'ci-bot', role: 'editor', revokedAt: 1 } }), expected: 'revoked API token "ci-bot" (editor)' },
  { name: 'a client key created', entry: entry({ action: 'sdk_key.created', resourceType: 'sdk_key', resourceKey: '2', environment: 'production', after: { name: 'web', kind: 'client', environment: 'production' } }), expected: 'created client key "web" for Production' },
  { name: 'a server key revoked', entry: entry({ action: 'sdk_key.revoked', resourceType: 'sdk_key', resourceKey: '2', environment: 'staging', before: { name: 'api', kind: 'server', environment: 'staging' }, after: { name: 'api', kind: 'server', environment: 'staging' } }), expected: 'revoked server SDK key "api" for Staging' },
  { name: 'an environment renamed', entry: entry({ action: 'environment.updated', resourceType: 'environment', resourceKey: 'staging', environment: 'staging', before: { name: 'Staging', critical: false }, after: { name: 'Stage', critical: false } }), expected: 'renamed environment staging "Staging" → "Stage"' },
  { name: 'secure mode', entry: entry({ action: 'environment.secure_mode_enabled', resourceType: 'environment', resourceKey: 'production', environment: 'production', after: { name: 'Production' } }), expected: 'turned on secure mode for client keys in Production' },
  { name: 'a webhook', entry: entry({ action: 'webhook.created', resourceType: 'webhook', resourceKey: '1', after: { url: 'https://hooks.example/x', events: ['flag.stage_changed'] } }), expected: 'added webhook https://hooks.example/x for flag.stage_changed' },
  { name: 'an environment that no longer exists reads as its key', entry: entry({ action: 'flag.stage_changed', environment: 'qa', before: flag({}, { qa: off }), after: flag({}, { qa: at('dogfood') }) }), expected: 'off → dogfood in qa' },
  { name: 'an action this version does not know', entry: entry({ action: 'flag.teleported', environment: 'production' }), expected: 'teleported in Production' },
  { name: 'snapshots of an old shape', entry: entry({ action: 'flag.stage_changed', environment: 'production', before: { environments: { production: { on: 1 } } }, after: { environments: { production: { on: 2 } } } }), expected: 'stage changed with no change in Production' },
];

describe('describeAuditEntry', () => {
  for (const c of cases) {
    it(c.name, () => {
      expect(describeAuditEntry(c.entry, names)).toBe(c.expected);
    });
  }

  it('stays one line of bounded length, quoting names as data', () => {
    const long = 'x'.repeat(500);
    const sentence = describeAuditEntry(entry({ before: flag({ name: '"a"\nb' }), after: flag({ name: long, description: long, owner: long, tags: Array.from({ length: 20 }, (_, i) => `t${i}`) }) }), names);
    expect(sentence.length).toBeLessThanOrEqual(MAX_SUMMARY);
    expect(sentence).not.toContain('\n');
    expect(sentence.startsWith('renamed "\\"a\\"\\nb" → "xxx')).toBe(true);
  });
});
