import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DOCUMENT_LIMITS } from '../domain/gitops/limits.js';
import { runScripted } from '../testing/cli.js';
import { EXIT } from './errors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-cli-gitops-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** What the server answers a plan request for these (empty) files. */
const emptyPlan = { status: 200, body: { changes: [], summary: { create: 0, update: 0, delete: 0 }, versions: {} } };

describe('flags files over the size the server accepts', () => {
  it.each(['diff', 'apply'])('%s refuses them before uploading, naming the limit (exit 1)', async (command) => {
    writeFileSync(join(dir, 'a.yaml'), `flags: {}\n# ${'x'.repeat(DOCUMENT_LIMITS.bytes / 2)}\n`);
    writeFileSync(join(dir, 'b.yaml'), `flags: {}\n# ${'x'.repeat(DOCUMENT_LIMITS.bytes / 2)}\n`);
    const { code, err, requests } = await runScripted([command, dir], [emptyPlan]);
    expect(code).toBe(EXIT.rejected);
    expect(err).toMatch(/holds 2,097,\d{3} bytes of flags files; the server accepts at most 2\.0 MiB \(2,097,152 bytes\) at once/);
    expect(requests).toEqual([]);
  });

  it('sends files within the limit', async () => {
    writeFileSync(join(dir, 'a.yaml'), 'flags: {}\n');
    const { code, requests } = await runScripted(['diff', dir], [emptyPlan]);
    expect(code).toBe(EXIT.ok);
    expect(requests).toEqual(['POST /api/gitops/plan']);
  });
});
