/**
 * What the server benchmarks share: a clock comparable across processes, percentiles, the
 * PASS/FAIL line (which also sets the exit code, so `pnpm bench` counts a missed target), and the
 * machine's load average — on a shared 2-core VM, figures mean little without it.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

/** Milliseconds since the epoch, sub-millisecond: child processes stamp with the same clock. */
export const now = (): number => performance.timeOrigin + performance.now();

/** `--name value` from the command line, else `fallback`. */
export function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

/**
 * Node options for the servers a benchmark starts: `--cpu-prof DIR` profiles each of them (one
 * .cpuprofile per process in DIR, written when it stops; cpu-profile-top.ts summarises them).
 */
export function serverNodeArgs(): string[] {
  const dir = option('cpu-prof', '');
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

/** Nearest-rank percentile of ascending `sorted` (p99 of 100 values is the 99th). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface Summary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export function summary(values: readonly number[]): Summary {
  const sorted = Float64Array.from(values).sort();
  const list = Array.from(sorted);
  return { count: list.length, p50: percentile(list, 50), p99: percentile(list, 99), max: list.at(-1) ?? Number.NaN };
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

export const ms = (n: number): string => `${n.toFixed(1)} ms`;

export const loadAverage = (): string => loadavg().map((n) => n.toFixed(2)).join(' ');

/** Linux counts CPU time in ticks of 1/100 s (USER_HZ, the same on every architecture Node runs on). */
const MS_PER_TICK = 10;

/** CPU time (user + system) a process has used so far, from /proc/<pid>/stat. */
export function processCpuMs(pid: number): number {
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
}

/** The whole machine's CPU time so far (all cores), busy and in all, from /proc/stat: busy / all is its load. */
export function machineCpu(): { busyMs: number; allMs: number } {
  // user nice system idle iowait irq softirq steal (guest time is already counted in user).
  const ticks = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const all = ticks.reduce((sum, n) => sum + n, 0);
  return { busyMs: (all - ticks[3]! - ticks[4]!) * MS_PER_TICK, allMs: all * MS_PER_TICK };
}

/** Print a target's verdict; a miss makes the benchmark exit with 1. */
export function verdict(label: string, pass: boolean): void {
  console.log(`  ${label}: ${pass ? 'PASS' : 'FAIL'}`);
  if (!pass) process.exitCode = 1;
}
