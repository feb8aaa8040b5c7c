/**
 * Flags as code at scale: apply a file with 2,000 flags across 3 environments through the API (one
 * transaction), then re-apply it (nothing to write) and plan it. Target: a few seconds.
 *
 *   node --conditions=switchyard-source --import tsx test/bench/gitops-apply.ts [--flags 2000]
 */
import { api, removeDataDir, startServerProcess } from '../support/server-process.js';

const flagsArg = process.argv.indexOf('--flags');
const FLAGS = flagsArg > 0 ? Number(process.argv[flagsArg + 1]) : 2000;
const STAGES = ['off', 'dogfood', '10%', '50%', '100%', 'kill'];
const TARGET_SECONDS = 5;

function document(): string {
  const lines = ['environments:', '  development: { name: Development }', '  production: { critical: true, name: Production }', '  staging: { name: Staging }', 'flags:'];
  for (let i = 0; i < FLAGS; i++) {
    lines.push(`  flag-${String(i).padStart(5, '0')}:`, `    tags: [bench, team-${i % 10}]`, '    environments:');
    lines.push(`      development: { stage: 100% }`, `      staging: { stage: ${STAGES[i % STAGES.length]} }`);
    if (i % 10 === 0) {
      lines.push('      production:', '        on: true', '        offVariation: off', '        targets: [{ variation: on, values: [qa-1, qa-2] }]', '        rules: []');
      lines.push('        defaultServe: { variation: off }', `        salt: flag-${i}`, '        bucketBy: userId');
    } else lines.push(`      production: { stage: ${STAGES[(i + 2) % STAGES.length]} }`);
  }
  return `${lines.join('\n')}\n`;
}

const server = await startServerProcess({ env: { LOG_LEVEL: 'warn' } });
try {
  const call = api(server.url, server.adminToken);
  const text = document();
  const time = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
    const started = performance.now();
    const value = await fn();
    return [value, (performance.now() - started) / 1000];
  };
  const [first, applySeconds] = await time(() => call<{ applied: boolean; summary: Record<string, number>; auditIds: number[] }>('POST', '/api/gitops/apply', { document: text, filename: 'bench.yaml', message: 'bench' }));
  if (first.status !== 200 || !first.body.applied) throw new Error(`apply failed: ${first.status} ${JSON.stringify(first.body).slice(0, 500)}`);
  const [again, reapplySeconds] = await time(() => call<{ applied: boolean; changes: unknown[] }>('POST', '/api/gitops/apply', { document: text, filename: 'bench.yaml' }));
  if (again.body.applied || again.body.changes.length !== 0) throw new Error('re-apply was not a no-op');
  const [exported, exportSeconds] = await time(async () => (await fetch(`${server.url}/api/gitops/export`, { headers: { authorization: `Bearer ${server.adminToken}` } })).text());
  const edited = text.replace('  flag-00001:\n    tags: [bench, team-1]\n    environments:\n      development: { stage: 100% }', '  flag-00001:\n    tags: [bench, team-1]\n    environments:\n      development: { stage: 50% }');
  const [plan, planSeconds] = await time(() => call<{ changes: unknown[] }>('POST', '/api/gitops/plan', { document: edited, filename: 'bench.yaml' }));

  console.log(`Flags as code, ${FLAGS} flags × 3 environments (${(text.length / 1024).toFixed(0)} KB of YAML):`);
  const row = (label: string, seconds: number) => console.log(`  ${label.padEnd(56)} ${seconds.toFixed(2)} s`);
  row(`apply (all new, one transaction, ${first.body.auditIds.length} audit entries)`, applySeconds);
  row('re-apply (no changes, nothing written)', reapplySeconds);
  row(`plan with one change (${plan.body.changes.length} change)`, planSeconds);
  row(`export (${(exported.length / 1024).toFixed(0)} KB)`, exportSeconds);
  console.log(`  target apply < ${TARGET_SECONDS} s: ${applySeconds < TARGET_SECONDS ? 'PASS' : 'FAIL'}`);
  if (applySeconds >= TARGET_SECONDS) process.exitCode = 1;
} finally {
  await server.stop();
  removeDataDir(server.dataDir);
}
