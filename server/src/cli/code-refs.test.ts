import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliInProcess, runScripted, SCRIPTED_URL, type ScriptedResponse } from '../testing/cli.js';
import { createFlag, createTestApp } from '../testing/test-app.js';
import { findReferences, isIgnored, keyPattern, parseGitignore, repositoryName } from './code-scan.js';

/**
 * `switchyard code-refs` on a temporary Git repository with several languages, a gitignored file,
 * a binary file and an untracked file; and on a plain directory (the .gitignore walk). Commands run
 * in-process against a scripted server, so the tests also show which requests were made.
 */

let root: string;
let repo: string;
let plain: string;
let head: string;

const FLAGS = [
  { key: 'new-checkout', archived: false, environments: { production: {} } },
  { key: 'checkout', archived: false, environments: { production: {} } },
  { key: 'dark_mode', archived: false, environments: { production: {} } },
  { key: 'old-banner', archived: true, environments: { production: {} } },
  { key: 'never-used', archived: false, environments: { production: {} } },
];
const flagsResponse: ScriptedResponse = { status: 200, body: { items: FLAGS } };

const files: Record<string, string> = {
  'web/src/app.ts': ["import { client } from './client';", "if (client.isEnabled('new-checkout', user)) {", "  render(client.variation('dark_mode', user, false));", '}', ''].join('\n'),
  'api/handlers.py': ['def handle(user):', '    if client.is_enabled("checkout", user):  # not new-checkout', '        return 1', ''].join('\n'),
  'svc/main.go': ['package main', '', 'func main() {', '\tif client.IsEnabled("old-banner", user) {', '\t}', '}', ''].join('\n'),
  'deploy/flags.yaml': ['flags:', '  checkout:', '    description: checkout-v2 is not checkout.v2', ''].join('\n'),
  '.gitignore': ['dist/', '*.log', ''].join('\n'),
  'dist/bundle.js': 'isEnabled("checkout")\n',
  'debug.log': 'checkout\n',
};

function sh(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: root } }).trim();
}

async function writeTree(dir: string, tree: Record<string, string | Buffer>): Promise<void> {
  for (const [path, content] of Object.entries(tree)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'switchyard-code-refs-'));
  repo = join(root, 'shop');
  await mkdir(repo);
  sh(repo, 'init', '-q', '-b', 'main');
  sh(repo, 'config', 'user.email', 'dev@example.com');
  sh(repo, 'config', 'user.name', 'Dev');
  sh(repo, 'remote', 'add', 'origin', 'git@github.com:acme/shop.git');
  await writeTree(repo, files);
  // A binary file that mentions a key: skipped.
  await writeTree(repo, { 'assets/logo.png': Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0]), Buffer.from('checkout')]) });
  sh(repo, 'add', '-A');
  sh(repo, 'commit', '-q', '-m', 'init');
  head = sh(repo, 'rev-parse', 'HEAD');
  // Untracked but not ignored: scanned.
  await writeTree(repo, { 'web/src/new.tsx': "const on = useFlag('checkout');\n" });

  plain = join(root, 'plain');
  await writeTree(plain, { ...files, 'nested/.gitignore': 'secret.ts\n!keep.ts\n', 'nested/secret.ts': "flag('checkout')\n", 'nested/keep.ts': "flag('checkout')\n" });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('switchyard code-refs', () => {
  it('finds whole-word references in every language, skipping ignored and binary files, and fails on archived flags', async () => {
    const run = await runScripted(['code-refs', repo], [flagsResponse]);
    expect(run.requests).toEqual(['GET /api/flags?archived=all']);
    expect(run.out).toBe(
      [
        'api/handlers.py:2: checkout: if client.is_enabled("checkout", user):  # not new-checkout',
        'api/handlers.py:2: new-checkout: if client.is_enabled("checkout", user):  # not new-checkout',
        'deploy/flags.yaml:2: checkout: checkout:',
        'svc/main.go:4: old-banner: if client.IsEnabled("old-banner", user) {',
        "web/src/app.ts:2: new-checkout: if (client.isEnabled('new-checkout', user)) {",
        "web/src/app.ts:3: dark_mode: render(client.variation('dark_mode', user, false));",
        "web/src/new.tsx:1: checkout: const on = useFlag('checkout');",
        '7 references to 4 flags in 6 files scanned (skipped 1 binary, 0 over 1048576 bytes); 1 flag not referenced',
        '',
      ].join('\n'),
    );
    expect(run.err).toBe('switchyard: the code references 1 archived flag: old-banner (1 reference); remove those references or unarchive the flags (--allow-archived does not fail)\n');
    expect(run.code).toBe(1);
  });

  it('--allow-archived exits 0; --json prints the references, archived and unreferenced flags', async () => {
    const run = await runScripted(['code-refs', repo, '--json', '--allow-archived'], [flagsResponse]);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    const body = JSON.parse(run.out) as { repository: string; branch: string; commit: string; references: { flag: string; path: string; line: number }[]; archived: unknown; unreferenced: string[]; uploaded: unknown };
    expect(body).toMatchObject({ repository: 'github.com/acme/shop', branch: 'main', commit: head, archived: [{ flag: 'old-banner', references: 1 }], unreferenced: ['never-used'], uploaded: null });
    expect(body.references.map((r) => `${r.path}:${r.line}:${r.flag}`)).toContain('web/src/new.tsx:1:checkout');
    expect(body.references.some((r) => r.path.startsWith('dist/') || r.path.endsWith('.log') || r.path.endsWith('.png'))).toBe(false);
  });

  it('--upload sends repository, branch and commit from Git with every reference', async () => {
    const uploaded = { repository: 'github.com/acme/shop', branch: 'main', commit: head, references: 7, uploadedAt: 1 };
    const run = await runScripted(['code-refs', repo, '--upload', '--allow-archived'], [flagsResponse, { status: 200, body: uploaded }]);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.requests).toEqual(['GET /api/flags?archived=all', 'PUT /api/code-refs']);
    const body = run.calls[1]!.body as { repository: string; branch: string; commit: string; references: { flag: string; path: string; line: number; snippet: string }[] };
    expect(body.repository).toBe('github.com/acme/shop');
    expect(body.branch).toBe('main');
    expect(body.commit).toBe(head);
    expect(body.references).toHaveLength(7);
    expect(body.references[0]).toEqual({ flag: 'checkout', path: 'api/handlers.py', line: 2, snippet: 'if client.is_enabled("checkout", user):  # not new-checkout' });
    expect(run.out).toContain(`uploaded to github.com/acme/shop main @ ${head.slice(0, 12)}\n`);
  });

  it('paths stay relative to the repository root when scanning a subdirectory; options override Git', async () => {
    const run = await runScripted(['code-refs', join(repo, 'web'), '--upload', '--repository', 'shop', '--branch', 'release-1', '--commit', 'abc123'], [flagsResponse, { status: 200, body: { repository: 'shop', branch: 'release-1', commit: 'abc123', references: 3, uploadedAt: 1 } }]);
    expect(run.code).toBe(0);
    const body = run.calls[1]!.body as { repository: string; branch: string; commit: string; references: { path: string }[] };
    expect([body.repository, body.branch, body.commit]).toEqual(['shop', 'release-1', 'abc123']);
    expect(body.references.map((r) => r.path)).toEqual(['web/src/app.ts', 'web/src/app.ts', 'web/src/new.tsx']);
  });

  it('takes keys from --flags (no server needed) and walks a directory outside Git honouring .gitignore files', async () => {
    const keys = join(root, 'flags.txt');
    await writeFile(keys, '# keys\ncheckout\nnew-checkout\n');
    const run = await runScripted(['code-refs', plain, '--flags', keys]);
    expect(run.requests).toEqual([]);
    expect(run.code).toBe(0);
    const paths = run.out.split('\n').filter((l) => /:\d+: /.test(l)).map((l) => l.split(': ')[0]);
    expect(paths, run.out).toEqual(['api/handlers.py:2', 'api/handlers.py:2', 'deploy/flags.yaml:2', 'nested/keep.ts:1', 'web/src/app.ts:2']);
  });

  it('reports the server refusing an upload (exit 1), usage errors (exit 2) and an unreachable server (exit 3)', async () => {
    const refused = await runScripted(['code-refs', repo, '--upload', '--allow-archived'], [flagsResponse, { status: 403, body: { error: { code: 'forbidden', message: 'requires the editor role' } } }]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('requires the editor role');
    const notDir = await runScripted(['code-refs', join(root, 'missing')]);
    expect(notDir.code).toBe(2);
    expect(notDir.err).toContain('is not a directory');
    const noGit = await runScripted(['code-refs', plain, '--upload', '--flags', join(root, 'flags.txt')]);
    expect(noGit.code).toBe(2);
    expect(noGit.err).toContain('--upload needs the repository');
    const badSize = await runScripted(['code-refs', repo, '--max-file-size', 'big']);
    expect(badSize.code).toBe(2);
    const unreachable = await runScripted(['code-refs', repo]);
    expect(unreachable.code).toBe(3);
  });
});

describe('switchyard code-refs against a real app', () => {
  it('uploads what it found; the server lists it per flag and marks the archived flag; a viewer cannot upload', async () => {
    const t = await createTestApp({ background: false });
    try {
      for (const key of ['checkout', 'new-checkout', 'old-banner']) await createFlag(t, key);
      const archived = await t.request(t.adminToken, { method: 'PATCH', url: '/api/flags/old-banner', payload: { version: 1, archived: true } });
      expect(archived.statusCode).toBe(200);
      const viaApp: typeof fetch = async (input, init) => {
        const url = new URL(String(input));
        const res = await t.app.inject({ method: (init?.method ?? 'GET') as 'GET', url: url.pathname + url.search, headers: init?.headers as Record<string, string>, ...(typeof init?.body === 'string' ? { payload: init.body } : {}) });
        return new Response(res.body, { status: res.statusCode });
      };
      const cli = (argv: string[], token: string) => runCliInProcess(argv, { env: { SWITCHYARD_URL: SCRIPTED_URL, SWITCHYARD_TOKEN: token }, fetch: viaApp });

      const run = await cli(['code-refs', repo, '--upload'], t.tokens.editor);
      // Uploaded, then failed: the code references the archived old-banner.
      expect(run.code).toBe(1);
      expect(run.err).toContain('archived flag: old-banner (1 reference)');
      const refs = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flags/checkout/code-refs' })).json<{ items: { repository: string; branch: string; commit: string; path: string; line: number }[] }>();
      expect(refs.items.map((r) => `${r.repository}@${r.branch}:${r.commit}:${r.path}:${r.line}`)).toEqual([
        `github.com/acme/shop@main:${head}:api/handlers.py:2`,
        `github.com/acme/shop@main:${head}:deploy/flags.yaml:2`,
        `github.com/acme/shop@main:${head}:web/src/new.tsx:1`,
      ]);

      const viewer = await cli(['code-refs', repo, '--upload', '--allow-archived'], t.tokens.viewer);
      expect(viewer.code).toBe(1);
      expect(viewer.err).toMatch(/editor/);
    } finally {
      await t.close();
    }
  });
});

describe('matching and ignoring', () => {
  it('matches keys as whole words, longest first', () => {
    const pattern = keyPattern(['checkout', 'checkout.v2', 'new-checkout', 'a'])!;
    const flags = (text: string) => findReferences(text, 'f', pattern).map((r) => r.flag);
    expect(flags('isEnabled("checkout")')).toEqual(['checkout']);
    expect(flags('isEnabled("new-checkout")')).toEqual(['new-checkout']);
    expect(flags('checkout-v2 checkout_v2 precheckout')).toEqual([]);
    expect(flags('flag: checkout.v2')).toEqual(['checkout.v2']);
    expect(flags('flags.checkout;')).toEqual(['checkout']);
    expect(flags('checkout checkout')).toEqual(['checkout']);
    expect(findReferences('x\n  \tcheckout  \n', 'f', pattern)).toEqual([{ flag: 'checkout', path: 'f', line: 2, snippet: 'checkout' }]);
  });

  it('cuts long lines around the match', () => {
    const line = `${'x'.repeat(500)} checkout ${'y'.repeat(500)}`;
    const [found] = findReferences(line, 'f', keyPattern(['checkout'])!);
    expect(found!.snippet.length).toBeLessThanOrEqual(300);
    expect(found!.snippet).toContain('checkout');
  });

  it('reads .gitignore rules: globs, anchors, directories, negation', () => {
    const rules = [...parseGitignore('*.log\n/build\ndist/\n**/tmp/*.ts\n!important.log\n', ''), ...parseGitignore('local.ts\n', 'pkg')];
    expect(isIgnored(rules, 'a/b/x.log', false)).toBe(true);
    expect(isIgnored(rules, 'important.log', false)).toBe(false);
    expect(isIgnored(rules, 'build', true)).toBe(true);
    expect(isIgnored(rules, 'src/build', true)).toBe(false);
    expect(isIgnored(rules, 'src/dist', true)).toBe(true);
    expect(isIgnored(rules, 'src/dist', false)).toBe(false);
    expect(isIgnored(rules, 'a/tmp/x.ts', false)).toBe(true);
    expect(isIgnored(rules, 'pkg/local.ts', false)).toBe(true);
    expect(isIgnored(rules, 'local.ts', false)).toBe(false);
  });

  it('names repositories from their remote URL', () => {
    expect(repositoryName('git@github.com:acme/shop.git\n')).toBe('github.com/acme/shop');
    expect(repositoryName('https://user:secret@gitlab.com/group/sub/app.git')).toBe('gitlab.com/group/sub/app');
    expect(repositoryName('ssh://git@example.com:2222/team/app')).toBe('example.com/team/app');
  });
});
