/** The core entry must run in browsers and edge runtimes: only `node.ts` may touch Node APIs. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('.', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'testing' ? [] : sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('core portability', () => {
  const core = sources(root).filter((p) => !['node.ts', 'openfeature.ts'].includes(relative(root, p)));

  it.each(core.map((path) => ({ file: relative(root, path), path })))('$file uses no Node-only API', ({ path }) => {
    const code = readFileSync(path, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, ''); // JSDoc examples may mention process.env
    expect(code).not.toMatch(/from ['"]node:|require\(|\bprocess\.|\bBuffer\b|\bsetImmediate\b/);
  });

  it('keeps the OpenFeature SDK out of the core', () => {
    for (const path of core) expect(readFileSync(path, 'utf8')).not.toMatch(/@openfeature/);
  });
});
