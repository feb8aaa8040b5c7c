/**
 * Size of the SDK's browser/edge core entry (`@switchyard/sdk`: evaluator, bucketing, client with
 * streaming and polling), bundled with esbuild, minified and gzipped. Target: ≤ 6 KB.
 *
 *   node --conditions=switchyard-source --import tsx test/bench/sdk-size.ts
 */
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { ROOT } from '../support/server-process.js';

async function bundle(stdin?: string) {
  return build({
    ...(stdin ? { stdin: { contents: stdin, resolveDir: `${ROOT}/sdk/src`, loader: 'ts' as const } } : { entryPoints: [`${ROOT}/sdk/src/index.ts`] }),
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    metafile: true,
  });
}

const result = await bundle();
const code = result.outputFiles[0]!.contents;
const gzipped = gzipSync(code, { level: 9 }).length;
// What a browser app that uses the client ships: tree-shaking drops the exports it does not use.
const app = await bundle(`import { createClient } from './index.ts'; const c = createClient({ url: location.origin, sdkKey: 'k' }); console.log(c.isEnabled('f', 'u'));`);
const appGzipped = gzipSync(app.outputFiles[0]!.contents, { level: 9 }).length;
console.log('SDK core entry (@switchyard/sdk), esbuild --bundle --minify, platform browser:');
console.log(`  whole entry  : ${code.length} bytes minified, ${gzipped} bytes gzipped (target ≤ 6144) ${gzipped <= 6144 ? 'PASS' : 'FAIL'}`);
console.log(`  app using createClient + isEnabled: ${appGzipped} bytes gzipped`);
const inputs = Object.entries(result.metafile.outputs)[0]![1].inputs;
for (const [file, info] of Object.entries(inputs).sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput)) {
  console.log(`    ${String(info.bytesInOutput).padStart(6)}  ${file.replace(/^.*?sdk\//, 'sdk/')}`);
}
