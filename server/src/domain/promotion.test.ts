import type { Rule } from '@switchyard/sdk';
import { describe, expect, it } from 'vitest';
import { describeAuditEntry } from './audit-text.js';
import { BOOLEAN_VARIATIONS, defaultFlagEnvironment } from './flag-defaults.js';
import type { Flag, FlagEnvironment } from './flags.js';
import { KEPT_FIELDS, PROMOTED_FIELDS, planPromotion, promotionBlockers, promotionSummary, type PromotionContext } from './promotion.js';
import { applyStage } from './stages.js';

const fresh = (): FlagEnvironment => defaultFlagEnvironment('checkout', BOOLEAN_VARIATIONS, 'boolean');
const at = (stage: Parameters<typeof applyStage>[1], config: FlagEnvironment = fresh()) => applyStage(config, stage, 'on');
const proRule: Rule = { id: 'pro', description: 'Pro plan', clauses: [{ attribute: 'plan', operator: 'in', values: ['pro'] }], serve: { variation: 'on' } };
const betaRule: Rule = { id: 'beta', clauses: [{ attribute: '', operator: 'in_segment', values: ['beta-testers'] }], serve: { variation: 'on' } };

function flagWith(staging: FlagEnvironment, production: FlagEnvironment): Pick<Flag, 'key' | 'environments'> {
  return { key: 'checkout', environments: { development: fresh(), staging, production } };
}

const names: PromotionContext['name'] = (key) => ({ staging: 'Staging', production: 'Production' })[key] ?? key;
const free: PromotionContext = { managedBy: null, runningPlan: null, name: names };

describe('planPromotion', () => {
  it('every configuration field is either promoted or kept', () => {
    expect([...PROMOTED_FIELDS, ...KEPT_FIELDS].sort()).toEqual(Object.keys({ ...fresh(), guarded: false, prerequisites: [] }).sort());
  });

  it('copies the targeting: on, the dogfood and other rules in order, the default rollout, targets', () => {
    const staging = { ...at('10%'), rules: [...at('10%').rules, proRule], targets: [{ variation: 'on', values: ['qa-1'] }] };
    const plan = planPromotion(flagWith(staging, fresh()), 'staging', 'production');
    expect(plan.upToDate).toBe(false);
    for (const field of PROMOTED_FIELDS) expect(plan.after[field], field).toEqual(staging[field]);
    expect(plan.stage).toEqual({ before: 'off', after: '10% + 1 rule + 1 target' });
    expect(plan.changes.map((c) => c.text)).toEqual([
      'On / off: off → on',
      'Default rule: off → 10% on / 90% off',
      '+ rule dogfood: if in segment internal serve on',
      '+ rule pro: if plan in ["pro"] serve on',
      'Targets serving on: + qa-1',
    ]);
    expect(promotionSummary(plan)).toBe('off → 10% + 1 rule + 1 target, 2 rules added, individual targets');
  });

  it('keeps the target’s salt, so its rollout population stays put, and says so', () => {
    const staging = { ...at('50%'), salt: 'reshuffled' };
    const production = at('10%');
    const plan = planPromotion(flagWith(staging, production), 'staging', 'production');
    expect(plan.after.salt).toBe('checkout');
    expect(plan.after.defaultServe).toEqual(staging.defaultServe);
    expect(plan.kept).toEqual([{ field: 'salt', text: 'Salt stays "checkout" (staging uses "reshuffled"): production\'s users keep their rollout buckets' }]);
  });

  it('keeps the guard marker of the target’s release plan', () => {
    const plan = planPromotion(flagWith(at('50%'), { ...at('10%'), guarded: true }), 'staging', 'production');
    expect(plan.after.guarded).toBe(true);
    expect(plan.kept.map((k) => k.field)).toEqual(['guarded']);
  });

  it('reports removed, changed and reordered rules, and removed targets', () => {
    const production = { ...at('dogfood'), rules: [...at('dogfood').rules, betaRule, proRule], targets: [{ variation: 'on', values: ['qa-1', 'qa-2'] }] };
    const staging = { ...at('dogfood'), rules: [{ ...proRule, serve: { variation: 'off' } }, ...at('dogfood').rules] };
    const plan = planPromotion(flagWith(staging, production), 'staging', 'production');
    expect(plan.changes.map((c) => c.text)).toEqual([
      '~ rule pro: if plan in ["pro"] serve on → if plan in ["pro"] serve off',
      '- rule beta: if in segment beta-testers serve on',
      'Rule order: dogfood, pro → pro, dogfood',
      'Targets serving on: - qa-1, qa-2',
    ]);
  });

  it('is up to date when only target-only fields differ', () => {
    const plan = planPromotion(flagWith({ ...at('10%'), salt: 'other' }, at('10%')), 'staging', 'production');
    expect(plan.upToDate).toBe(true);
    expect(plan.changes).toEqual([]);
    expect(promotionSummary(plan)).toBe('');
  });

  it('says what changed when only a rule description did', () => {
    const plan = planPromotion(flagWith({ ...fresh(), rules: [{ ...proRule, description: 'Paying' }] }, { ...fresh(), rules: [proRule] }), 'staging', 'production');
    expect(plan.changes.map((c) => c.text)).toEqual(['~ rule pro: Pro plan → Paying']);
  });

  it('refuses the same environment (400) and unknown environments (404)', () => {
    const flag = flagWith(fresh(), fresh());
    expect(() => planPromotion(flag, 'staging', 'staging')).toThrow(expect.objectContaining({ code: 'validation_failed' }));
    expect(() => planPromotion(flag, 'qa', 'production')).toThrow('environment "qa" not found');
    expect(() => planPromotion(flag, 'staging', 'constructor')).toThrow('environment "constructor" not found');
  });

  it('does not share objects with the source (a later edit of one cannot leak into the other)', () => {
    const staging = { ...fresh(), rules: [proRule] };
    const plan = planPromotion(flagWith(staging, fresh()), 'staging', 'production');
    expect(plan.after.rules).toEqual(staging.rules);
    expect(plan.after.rules).not.toBe(staging.rules);
  });
});

describe('promotionBlockers', () => {
  it('refuses a killed target: a promotion does not lift a kill', () => {
    const plan = planPromotion(flagWith(at('100%'), at('kill', at('10%'))), 'staging', 'production');
    expect(promotionBlockers({ key: 'checkout' }, plan, free)).toEqual([
      { code: 'target_killed', message: 'flag "checkout" is killed in Production: a promotion does not lift a kill. End it first (move it to a stage, or resume it if Git manages it), then promote' },
    ]);
  });

  it('refuses a killed source: nothing released there to promote', () => {
    const plan = planPromotion(flagWith(at('kill', at('10%')), fresh()), 'staging', 'production');
    expect(promotionBlockers({ key: 'checkout' }, plan, free).map((b) => b.code)).toEqual(['source_killed']);
  });

  it('names a running release plan and a Git file', () => {
    const plan = planPromotion(flagWith(at('100%'), at('10%')), 'staging', 'production');
    const blockers = promotionBlockers({ key: 'checkout' }, plan, { managedBy: 'flags.yaml', runningPlan: { currentStep: 1, steps: 4, percentage: 25 }, name: names });
    expect(blockers).toEqual([
      { code: 'managed_by_git', message: 'flag "checkout" is managed by Git (flags.yaml); change it there and commit, the server applies it' },
      { code: 'release_running', message: 'a release plan is running for "checkout" in Production (step 2 of 4 at 25%); pause or abort it before promoting Staging\'s targeting over it' },
    ]);
  });

  it('finds nothing in the way of an ordinary promotion', () => {
    const plan = planPromotion(flagWith(at('100%'), at('10%')), 'staging', 'production');
    expect(promotionBlockers({ key: 'checkout' }, plan, free)).toEqual([]);
  });
});

describe('the audit sentence of a promotion', () => {
  it('says where the targeting came from and what it changed', () => {
    const staging = { ...at('10%'), rules: [...at('10%').rules, proRule] };
    const before = flagWith(staging, fresh());
    const plan = planPromotion(before, 'staging', 'production');
    const after = { ...before, environments: { ...before.environments, production: plan.after }, promotion: { from: 'staging', to: 'production' } };
    const sentence = describeAuditEntry(
      { action: 'flag.promoted', resourceType: 'flag', resourceKey: 'checkout', environment: 'production', before, after, source: 'api', message: null, commit: null },
      names,
    );
    expect(sentence).toBe('promoted Staging\'s targeting to Production: off → 10%, added rule "Pro plan"');
  });
});
