import { describe, expect, it } from 'vitest';
import { runScripted as run } from '../testing/cli.js';
import { describeChange } from './audit.js';
import type { EnvironmentView, FlagView, SdkKeyView } from './command.js';
import { formatFlag, formatFlagList } from './flag-view.js';

/**
 * The CLI side of client keys: flag visibility, SDK keys with a kind, secure mode. Run in-process
 * against a scripted server, so each test also proves which requests were (not) made.
 */

const envConfig = {
  on: false,
  killed: false,
  offVariation: 'off',
  targets: [],
  rules: [],
  defaultServe: { variation: 'off' },
  salt: 'a',
  bucketBy: 'userId',
  stage: 'off',
};

const flag = (overrides: Partial<FlagView> = {}): FlagView => ({
  key: 'promo-banner',
  name: 'Promo banner',
  description: '',
  tags: ['web'],
  owner: '',
  type: 'boolean',
  variations: [
    { key: 'off', value: false },
    { key: 'on', value: true },
  ],
  archived: false,
  clientVisible: false,
  version: 4,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  updatedBy: 'admin',
  environments: { production: envConfig },
  ...overrides,
});

const environment = (key: string, clientSecureMode: boolean): EnvironmentView => ({
  key,
  name: key,
  critical: key === 'production',
  clientSecureMode,
  sortOrder: 0,
  version: 3,
  createdAt: '2026-01-01T00:00:00.000Z',
});
const environments = (secure: boolean) => ({ status: 200, body: { items: [environment('staging', false), environment('production', secure)] } });

const sdkKey = (overrides: Partial<SdkKeyView> = {}): SdkKeyView => ({
  id: 7,
  name: 'web-app',
  kind: 'client',
  environment: 'production',
  prefix: 'sy_client_ab…',
  createdAt: '2026-01-02T03:04:05.000Z',
  createdBy: 'admin',
  revokedAt: null,
  ...overrides,
});

describe('usage errors name the problem and exit 2 before any request', () => {
  const cases = [
    { name: 'visibility not on/off', argv: ['flags', 'client-visible', 'promo-banner', 'yes'], err: 'client visibility must be on or off, got "yes"' },
    { name: 'visibility missing', argv: ['flags', 'client-visible', 'promo-banner'], err: 'missing argument on|off' },
    { name: '--client-visible with a value', argv: ['flags', 'create', 'a', '--client-visible=false'], err: 'flag --client-visible does not take a value' },
    { name: 'sdk-keys without subcommand', argv: ['sdk-keys'], err: 'missing command after "sdk-keys": one of create, list, revoke' },
    { name: 'sdk key without --env', argv: ['sdk-keys', 'create', 'web-app', '--kind', 'client'], err: 'missing --env' },
    { name: 'unknown kind', argv: ['sdk-keys', 'create', 'web-app', '--env', 'production', '--kind', 'browser'], err: '--kind must be server or client, got "browser"' },
    { name: 'sdk key without a name', argv: ['sdk-keys', 'create', '--env', 'production'], err: 'missing argument NAME' },
    { name: 'bad sdk key id', argv: ['sdk-keys', 'revoke', 'web-app'], err: 'ID must be a positive whole number, got "web-app"' },
    { name: 'secure mode: unknown action', argv: ['envs', 'secure-mode', 'production', 'enable'], err: 'the secure-mode action must be on, rotate or off, got "enable"' },
    { name: 'secure mode: no arguments', argv: ['envs', 'secure-mode'], err: 'missing arguments ENV on|rotate|off' },
    { name: 'secure mode: misspelt', argv: ['envs', 'secure-mdoe', 'production', 'on'], err: 'did you mean "envs secure-mode"?' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const result = await run(c.argv);
      expect(result.err).toContain(c.err);
      expect(result.code).toBe(2);
      expect(result.calls).toEqual([]);
    });
  }
});

describe('help', () => {
  it('lists the new commands and explains each', async () => {
    const top = await run(['help']);
    for (const command of ['flags client-visible', 'envs secure-mode', 'sdk-keys create', 'sdk-keys list', 'sdk-keys revoke']) expect(top.out).toContain(command);
    expect(top.out).toContain('SDK keys:');
    expect((await run(['help', 'envs', 'secure-mode'])).out).toContain('Usage: switchyard envs secure-mode ENV on|rotate|off [flags]');
    expect((await run(['sdk-keys', 'create', '--help'])).out).toMatch(/--kind KIND\s+server or client \(default: server\)/);
    expect((await run(['flags', 'create', '--help'])).out).toContain('--client-visible');
    expect((await run(['flags', 'client-visible', '--help'])).out).toContain('Usage: switchyard flags client-visible KEY on|off [flags]');
  });
});

describe('flags and client keys', () => {
  it('create sends clientVisible only with --client-visible', async () => {
    const visible = await run(['flags', 'create', 'promo-banner', '--client-visible'], [{ status: 201, body: flag({ clientVisible: true }) }]);
    expect(visible.calls[0]!.body).toEqual({ key: 'promo-banner', clientVisible: true });
    expect(visible.out).toContain('it is off in every environment and visible to client keys.');
    const hidden = await run(['flags', 'create', 'promo-banner'], [{ status: 201, body: flag() }]);
    expect(hidden.calls[0]!.body).toEqual({ key: 'promo-banner' });
    expect(hidden.out).toContain('it is off in every environment.\n');
  });

  it('client-visible on reads the version and patches only clientVisible', async () => {
    const result = await run(['flags', 'client-visible', 'promo-banner', 'on'], [
      { status: 200, body: flag() },
      { status: 200, body: flag({ clientVisible: true, version: 5 }) },
    ]);
    expect(result.requests).toEqual(['GET /api/flags/promo-banner', 'PATCH /api/flags/promo-banner']);
    expect(result.calls[1]!.body).toEqual({ version: 4, clientVisible: true });
    expect(result).toMatchObject({ code: 0, out: 'promo-banner is now visible to client keys: browsers and mobile apps get its evaluated value (version 5)\n' });

    const off = await run(['flags', 'client-visible', 'promo-banner', 'off', '--json'], [
      { status: 200, body: flag({ clientVisible: true, version: 5 }) },
      { status: 200, body: flag({ version: 6 }) },
    ]);
    expect(off.calls[1]!.body).toEqual({ version: 5, clientVisible: false });
    expect(JSON.parse(off.out)).toMatchObject({ clientVisible: false, version: 6 });
  });

  it('client-visible changes nothing when the flag is already so', async () => {
    const result = await run(['flags', 'client-visible', 'promo-banner', 'off'], [{ status: 200, body: flag() }]);
    expect(result.requests).toEqual(['GET /api/flags/promo-banner']);
    expect(result).toMatchObject({ code: 0, out: 'promo-banner is already hidden from client keys\n' });
  });

  it("client-visible on a flag that does not exist: the server's message, exit 1", async () => {
    const result = await run(['flags', 'client-visible', 'nope', 'on'], [{ status: 404, body: { error: { code: 'not_found', message: 'flag "nope" not found' } } }]);
    expect(result).toMatchObject({ code: 1, err: 'switchyard: flag "nope" not found\n' });
  });

  it('get shows the visibility; the list marks visible flags only when there are some', () => {
    expect(formatFlag(flag({ clientVisible: true }))).toMatch(/^Client keys: visible \(browsers and mobile apps get its evaluated value\)$/m);
    expect(formatFlag(flag())).toMatch(/^Client keys: hidden$/m);
    const list = formatFlagList([flag({ clientVisible: true }), flag({ key: 'internal', name: 'Internal' })]);
    expect(list).toBe(
      'KEY           NAME          TAGS  CLIENT   STAGES\n' +
        'promo-banner  Promo banner  web   visible  production: off\n' +
        'internal      Internal      web   -        production: off\n',
    );
    expect(formatFlagList([flag()])).toBe('KEY           NAME          TAGS  STAGES\npromo-banner  Promo banner  web   production: off\n');
  });

  it('the audit log says a change made a flag visible', () => {
    expect(describeChange({ resourceType: 'flag', environment: null, before: { clientVisible: false }, after: { clientVisible: true } })).toBe('changed clientVisible');
  });
});

describe('sdk-keys', () => {
  it('create --kind client prints only the key on stdout, the warning on stderr', async () => {
    const result = await run(['sdk-keys', 'create', 'web-app', '--env', 'production', '--kind', 'client'], [{ status: 201, body: { ...sdkKey(), key: 'sy_client_secret123' } }]);
    expect(result.requests).toEqual(['POST /api/sdk-keys']);
    expect(result.calls[0]!.body).toEqual({ name: 'web-app', environment: 'production', kind: 'client' });
    expect(result.code).toBe(0);
    expect(result.out).toBe('sy_client_secret123\n');
    expect(result.err).toContain('Created client key "web-app" for production (id 7)');
    expect(result.err).toContain('store this key now; it will not be shown again');
    expect(result.err).toContain('switchyard flags client-visible KEY on');
  });

  it('create defaults to a server key; --json prints the server body', async () => {
    const body = { ...sdkKey({ kind: 'server', name: 'api', prefix: 'sy_sdk_ab…' }), key: 'sy_sdk_secret' };
    const result = await run(['sdk-keys', 'create', 'api', '--env', 'production', '--json'], [{ status: 201, body }]);
    expect(result.calls[0]!.body).toEqual({ name: 'api', environment: 'production', kind: 'server' });
    expect(JSON.parse(result.out)).toEqual(body);
    expect(result.err).toContain('store this key now');
  });

  it('create for an unknown environment: exit 1 with the server message', async () => {
    const result = await run(['sdk-keys', 'create', 'api', '--env', 'prod'], [{ status: 404, body: { error: { code: 'not_found', message: 'environment "prod" not found' } } }]);
    expect(result).toMatchObject({ code: 1, out: '', err: 'switchyard: environment "prod" not found\n' });
  });

  it('list shows the kind and environment of each key', async () => {
    const items = [sdkKey(), sdkKey({ id: 8, name: 'api', kind: 'server', environment: 'staging', prefix: 'sy_sdk_cd…', revokedAt: '2026-02-01T00:00:00.000Z' })];
    const result = await run(['sdk-keys', 'list'], [{ status: 200, body: { items } }]);
    expect(result.out).toBe(
      'ID  NAME     KIND    ENVIRONMENT  PREFIX         STATUS                        CREATED\n' +
        '7   web-app  client  production   sy_client_ab…  active                        2026-01-02 03:04:05Z\n' +
        '8   api      server  staging      sy_sdk_cd…     revoked 2026-02-01 00:00:00Z  2026-01-02 03:04:05Z\n',
    );
  });

  it('revoke names the key it revoked', async () => {
    const result = await run(['sdk-keys', 'revoke', '7'], [{ status: 200, body: sdkKey({ revokedAt: '2026-02-01T00:00:00.000Z' }) }]);
    expect(result.requests).toEqual(['DELETE /api/sdk-keys/7']);
    expect(result.out).toBe('Revoked SDK key 7 ("web-app", client, production)\n');
  });
});

describe('envs secure-mode', () => {
  const withSecret = { ...environment('production', true), secret: 'a'.repeat(64) };

  it('on prints the secret alone on stdout, and says to store it now', async () => {
    const result = await run(['envs', 'secure-mode', 'production', 'on'], [environments(false), { status: 200, body: withSecret }]);
    expect(result.requests).toEqual(['GET /api/environments', 'POST /api/environments/production/secure-mode']);
    expect(result.code).toBe(0);
    expect(result.out).toBe(`${'a'.repeat(64)}\n`);
    expect(result.err).toContain('Secure mode is on in production');
    expect(result.err).toContain('store this secret now; it will not be shown again');
  });

  it('rotate when on posts again and says the old secret stopped working; --json prints the body with the secret', async () => {
    const result = await run(['envs', 'secure-mode', 'production', 'rotate', '--json'], [environments(true), { status: 200, body: withSecret }]);
    expect(result.requests).toEqual(['GET /api/environments', 'POST /api/environments/production/secure-mode']);
    expect(JSON.parse(result.out)).toEqual(withSecret);
    expect(result.err).toContain('store this secret now');
    const text = await run(['envs', 'secure-mode', 'production', 'rotate'], [environments(true), { status: 200, body: withSecret }]);
    expect(text.err).toContain('the old secret stopped working');
  });

  it('on when already on, and rotate when off, refuse (exit 1) without changing anything', async () => {
    const on = await run(['envs', 'secure-mode', 'production', 'on'], [environments(true)]);
    expect(on.requests).toEqual(['GET /api/environments']);
    expect(on.code).toBe(1);
    expect(on.err).toContain('secure mode is already on in production');
    expect(on.err).toContain('switchyard envs secure-mode production rotate');
    const rotate = await run(['envs', 'secure-mode', 'production', 'rotate'], [environments(false)]);
    expect(rotate.requests).toEqual(['GET /api/environments']);
    expect(rotate.code).toBe(1);
    expect(rotate.err).toContain('secure mode is off in production: there is no secret to rotate');
  });

  it('off deletes it; off when off changes nothing', async () => {
    const off = await run(['envs', 'secure-mode', 'production', 'off'], [environments(true), { status: 200, body: environment('production', false) }]);
    expect(off.requests).toEqual(['GET /api/environments', 'DELETE /api/environments/production/secure-mode']);
    expect(off).toMatchObject({ code: 0, out: 'Secure mode is off in production: client keys may ask about any user again, unsigned\n' });
    const again = await run(['envs', 'secure-mode', 'production', 'off'], [environments(false)]);
    expect(again.requests).toEqual(['GET /api/environments']);
    expect(again).toMatchObject({ code: 0, out: 'Secure mode is already off in production\n' });
  });

  it('an unknown environment is named with the ones that exist (exit 1)', async () => {
    const result = await run(['envs', 'secure-mode', 'prod', 'on'], [environments(false)]);
    expect(result).toMatchObject({ code: 1, err: 'switchyard: environment "prod" not found; environments: staging, production\n' });
  });

  it('envs list shows secure mode', async () => {
    const result = await run(['envs', 'list'], [environments(true)]);
    expect(result.out).toMatch(/^KEY\s+NAME\s+CRITICAL\s+SECURE MODE\s+VERSION\s+CREATED\n/);
    expect(result.out).toMatch(/^production\s+production\s+yes\s+on\s+3\s/m);
    expect(result.out).toMatch(/^staging\s+staging\s+no\s+off\s+3\s/m);
  });
});
