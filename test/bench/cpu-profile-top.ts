/**
 * The functions with the most self time in V8 .cpuprofile files (as `--cpu-prof` writes them, e.g.
 * a benchmark's servers with `--cpu-prof DIR`), to read where a server's time goes.
 *
 *   node --import tsx test/bench/cpu-profile-top.ts DIR_OR_FILE... [--top 25] [--by function|package]
 *
 * `--by package` adds up self time per npm package (or server/, sdk/, node: internals, native).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { option } from './measure.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const TOP = Number(option('top', '25'));
const BY_PACKAGE = option('by', 'function') === 'package';

function files(paths: string[]): string[] {
  return paths.flatMap((path) => (statSync(path).isDirectory() ? readdirSync(path).filter((name) => name.endsWith('.cpuprofile')).map((name) => join(path, name)) : [path]));
}

function packageOf(frame: ProfileNode['callFrame']): string {
  if (!frame.url) return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  if (frame.url.startsWith('node:')) return 'node: internals';
  const pkg = /\/node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(frame.url);
  if (pkg) return pkg[1]!;
  return /\/(server|sdk|dashboard|test)\//.exec(frame.url)?.[1] ?? frame.url;
}

function where(frame: ProfileNode['callFrame']): string {
  if (BY_PACKAGE) return packageOf(frame);
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  const file = frame.url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, '');
  return `${name}  ${file.replace(/^.*\/(server|sdk)\/(dist|src)\//, '$1/$2/')}:${frame.lineNumber + 1}`;
}

for (const file of files(process.argv.slice(2).filter((arg, i, all) => !arg.startsWith('--') && !['--top', '--by'].includes(all[i - 1]!)))) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const micros = profile.timeDeltas[i] ?? 0;
    total += micros;
    const key = where(byId.get(id)!.callFrame);
    self.set(key, (self.get(key) ?? 0) + micros);
  });
  const idle = self.get('(idle)') ?? 0;
  console.log(`\n${basename(file)}: ${(total / 1e6).toFixed(1)} s sampled, ${((total - idle) / 1e6).toFixed(1)} s busy`);
  self.delete('(idle)');
  for (const [key, micros] of [...self].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
    console.log(`  ${(micros / 1000).toFixed(0).padStart(7)} ms  ${((micros / (total - idle || 1)) * 100).toFixed(1).padStart(5)}% of busy  ${key}`);
  }
}
