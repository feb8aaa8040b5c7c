/**
 * Size of the SDK's browser/edge core entry (`@switchyard/sdk`: evaluator, bucketing, client with
 * streaming and polling), bundled with esbuild, minified and gzipped. Target: ≤ 6 KB.
 *
 *   node --conditions=switchyard-source --import tsx test/bench/sdk-size.ts
 */
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { ROOT } from '../support/server-process.js';

const result = await build({
  entryPoints: [`${ROOT}/sdk/src/index.ts`],
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  write: false,
  metafile: true,
});
const code = result.outputFiles[0]!.contents;
const gzipped = gzipSync(code, { level: 9 }).length;
console.log('SDK core entry (@switchyard/sdk), esbuild --bundle --minify, platform browser:');
console.log(`  minified: ${code.length} bytes`);
console.log(`  gzipped : ${gzipped} bytes (target ≤ 6144) ${gzipped <= 6144 ? 'PASS' : 'FAIL'}`);
const inputs = Object.entries(result.metafile.outputs)[0]![1].inputs;
for (const [file, info] of Object.entries(inputs).sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput)) {
  console.log(`    ${String(info.bytesInOutput).padStart(6)}  ${file.replace(/^.*?sdk\//, 'sdk/')}`);
}
