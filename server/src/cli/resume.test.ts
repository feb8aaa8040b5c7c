import { describe, expect, it } from 'vitest';
import { runScripted as run } from '../testing/cli.js';
import type { FlagView } from './command.js';
import { formatFlag } from './flag-view.js';

/**
 * `flags resume`: the end of an incident kill of a Git-managed flag, and how `flags get` shows the
 * hold. Run in-process against a scripted server, so each test also proves which requests were made.
 */

const tenPercent = {
  on: true,
  killed: false,
  offVariation: 'off',
  targets: [],
  rules: [],
  defaultServe: { rollout: { variations: [{ variation: 'on', weight: 10_000 }, { variation: 'off', weight: 90_000 }] } },
  salt: 'a',
  bucketBy: 'userId',
  stage: '10%',
  stageSummary: '10%',
  killedFrom: null,
  incident: null,
};
const incident = { killedAt: '2026-12-03T09:15:00.000Z', killedBy: 'alice', message: 'checkout 500s', sinceCommit: 'abc123' };
const killed = { ...tenPercent, on: false, killed: true, stage: 'kill', stageSummary: 'killed (was 10%)', killedFrom: '10%', incident };

const flag = (production: FlagView['environments'][string], version = 4): FlagView => ({
  key: 'new-checkout',
  name: 'New checkout',
  description: '',
  tags: [],
  owner: '',
  type: 'boolean',
  variations: [
    { key: 'off', value: false },
    { key: 'on', value: true },
  ],
  archived: false,
  clientVisible: false,
  version,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  updatedBy: 'admin',
  environments: { production, staging: { ...tenPercent, stage: 'off', stageSummary: 'off', on: false } },
  managedBy: 'flags.yaml',
});

describe('flags resume', () => {
  it('posts to …/resume with the message and says where the flag is now', async () => {
    const result = await run(['flags', 'resume', 'new-checkout', 'production', '--message', 'fixed, INC-42'], [{ status: 200, body: flag(tenPercent, 6) }]);
    expect(result.requests).toEqual(['POST /api/flags/new-checkout/environments/production/resume']);
    expect(result.calls[0]!.body).toEqual({ message: 'fixed, INC-42' });
    expect(result).toMatchObject({ code: 0, err: '', out: "Resumed new-checkout in production: back to the file's configuration (stage 10%, version 6)\n" });
  });

  it('without --message sends an empty object body; --json prints the server body', async () => {
    const result = await run(['flags', 'resume', 'new-checkout', 'production', '--json'], [{ status: 200, body: flag(tenPercent, 6) }]);
    expect(result.calls[0]!.body).toEqual({});
    expect(JSON.parse(result.out)).toMatchObject({ version: 6, environments: { production: { stage: '10%', incident: null } } });
  });

  it("nothing to resume: the server's 409 message as is, exit 1", async () => {
    const message = 'flag "new-checkout" is not held by an incident kill in production: nothing to resume';
    const result = await run(['flags', 'resume', 'new-checkout', 'production'], [{ status: 409, body: { error: { code: 'conflict', message } } }]);
    expect(result).toMatchObject({ code: 1, out: '', err: `switchyard: ${message}\n` });
  });

  it('needs KEY and ENV before any request', async () => {
    const result = await run(['flags', 'resume', 'new-checkout']);
    expect(result.err).toContain('missing argument ENV');
    expect(result.code).toBe(2);
    expect(result.calls).toEqual([]);
  });

  it('is listed in help with its usage', async () => {
    expect((await run(['help'])).out).toContain('flags resume');
    expect((await run(['flags', 'resume', '--help'])).out).toContain('Usage: switchyard flags resume KEY ENV [flags]');
  });
});

describe('flags get and an incident hold', () => {
  it('shows who killed it, when, why, and how to resume, for the held environment only', () => {
    const text = formatFlag(flag(killed));
    expect(text).toContain(
      'incident hold in production: killed by alice at 2026-12-03 09:15:00Z ("checkout 500s"); Git changes to this flag there are held until: switchyard flags resume new-checkout production\n',
    );
    expect(text.match(/incident hold/g)).toHaveLength(1);
  });

  it('without a message, no quotes; without a hold, no line', () => {
    expect(formatFlag(flag({ ...killed, incident: { ...incident, message: null } }))).toContain('killed by alice at 2026-12-03 09:15:00Z; Git changes');
    expect(formatFlag(flag(tenPercent))).not.toContain('incident hold');
  });
});

describe('flags get and prerequisites', () => {
  it('lists them per environment, with what is served when one is not met; none, no line', () => {
    const text = formatFlag(flag({ ...tenPercent, prerequisites: [{ flag: 'payments', variation: 'on' }, { flag: 'theme', variation: 'dark' }] }));
    expect(text).toContain('prerequisites in production: payments serves on, theme serves dark (else it serves off)\n');
    expect(formatFlag(flag(tenPercent))).not.toContain('prerequisites');
  });
});
