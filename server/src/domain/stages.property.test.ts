import type { RuleSet } from '@switchyard/sdk';
import { evaluate } from '@switchyard/sdk/ruleset';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlag, createTestApp, type FlagBody, type TestContext } from '../testing/test-app.js';

/**
 * Property: stage changes never lose dogfood users. For any sequence of release stages (not off or
 * kill) applied through the API, every user in the `internal` segment evaluates to true with the
 * SDK's own `evaluate` on the rule set SDKs poll — and every user inside p% stays inside when the
 * next stage has a larger (or equal) percentage.
 */

const DOGFOOD_USERS = ['dog-ana', 'dog-bo', 'dog-cy'];
const USERS = Array.from({ length: 300 }, (_, i) => `user-${i}`);

/** A stage and the share of everyone it releases to (dogfood = 0). */
interface Stage {
  text: string;
  percentage: number;
}

const stageArbitrary: fc.Arbitrary<Stage> = fc.oneof(
  fc.constant({ text: 'dogfood', percentage: 0 }),
  fc.constant({ text: '100%', percentage: 100 }),
  // 0.001% precision: any number of thousandths from 0 to 100%.
  fc.integer({ min: 0, max: 100_000 }).map((thousandths) => ({ text: `${thousandths / 1000}%`, percentage: thousandths / 1000 })),
  fc.constantFrom(1, 5, 10, 25, 50, 75, 99).map((p) => ({ text: `${p}%`, percentage: p })),
);

let t: TestContext;
let sdk: string;

beforeAll(async () => {
  t = await createTestApp();
  sdk = await t.sdkKey('production');
  await createFlag(t, 'ramp');
  const res = await t.request(t.adminToken, { method: 'PATCH', url: '/api/segments/internal', payload: { version: 1, included: DOGFOOD_USERS } });
  expect(res.statusCode).toBe(200);
});
afterAll(async () => {
  await t.close();
});

async function moveTo(stage: string): Promise<void> {
  const flag = (await t.request(t.adminToken, { method: 'GET', url: '/api/flags/ramp' })).json<FlagBody>();
  const res = await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags/ramp/environments/production/stage', payload: { stage, version: flag.version } });
  expect(res.statusCode, res.body).toBe(200);
  expect(res.json<FlagBody>().environments.production!.salt).toBe('ramp');
}

async function enabledUsers(): Promise<(userId: string) => boolean> {
  const ruleSet = (await t.request(sdk, { method: 'GET', url: '/api/sdk/rules' })).json<RuleSet>();
  const flag = ruleSet.flags.ramp;
  return (userId) => evaluate(flag, { userId }, ruleSet.segments).value === true;
}

describe('release stages (property)', () => {
  it('never lose dogfood users, and ramp-ups keep everyone already inside', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stageArbitrary, { minLength: 1, maxLength: 6 }), async (stages) => {
        let previous: { percentage: number; inside: Set<string> } | undefined;
        for (const stage of stages) {
          await moveTo(stage.text);
          const enabled = await enabledUsers();
          for (const user of DOGFOOD_USERS) expect(enabled(user), `${user} at ${stage.text}`).toBe(true);
          const inside = new Set(USERS.filter(enabled));
          if (stage.percentage === 100) expect(inside.size).toBe(USERS.length);
          if (stage.percentage === 0) expect(inside.size).toBe(0);
          if (previous && stage.percentage >= previous.percentage) {
            for (const user of previous.inside) expect(inside.has(user), `${user}: ${previous.percentage}% → ${stage.text}`).toBe(true);
          }
          if (previous && stage.percentage <= previous.percentage) {
            for (const user of inside) expect(previous.inside.has(user), `${user} entered while shrinking to ${stage.text}`).toBe(true);
          }
          previous = { percentage: stage.percentage, inside };
        }
      }),
      { seed: 20_260_101, numRuns: 60 },
    );
  });
});
