/**
 * The release guard's statistics, by simulation: ≥ 300 rollouts per scenario through the default
 * plan (1% → 10% → 50% → 100%, each step needing its minimum exposures and ten looks), with a look
 * every `LOOK_TRAFFIC` exposures, calling the server's real decision rule on cumulative counts.
 *
 *   (a) false rollbacks when v1 and v2 both fail 1% of the time    (target ≤ 5%)
 *   (b) detection rate and median exposures to rollback, 5% vs 1%  (target ≥ 99%)
 *   (c) the same for 2% vs 1%
 *
 *   node --conditions=switchyard-source --import tsx test/bench/guard.ts [--runs 1000] [--seed 7] [--delta 0.1] [--alpha 0.05] [--traffic 2000]
 */
import { DEFAULT_GUARD, assessErrorRate, type ArmCounts } from '../../server/src/domain/releases/decision.js';
import { DEFAULT_STEPS } from '../../server/src/domain/releases/plans.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const RUNS = option('runs', 1000);
const LOOK_TRAFFIC = option('traffic', 2000);
const LOOKS_PER_STEP = 10;
/** `--delta 0` tests plain equality (no tolerated increase): the sequential test's own α control. */
const GUARD = { ...DEFAULT_GUARD, minRelativeIncrease: option('delta', DEFAULT_GUARD.minRelativeIncrease), alpha: option('alpha', DEFAULT_GUARD.alpha) };

/** mulberry32: a small seeded generator so runs are reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function binomial(n: number, p: number, random: () => number): number {
  let k = 0;
  for (let i = 0; i < n; i++) if (random() < p) k++;
  return k;
}

interface Outcome {
  rolledBack: boolean;
  /** Exposures (both arms) and treatment exposures when the plan ended. */
  exposures: number;
  treatmentExposures: number;
}

function simulate(controlRate: number, treatmentRate: number, random: () => number): Outcome {
  const control: ArmCounts = { exposures: 0, errors: 0 };
  const treatment: ArmCounts = { exposures: 0, errors: 0 };
  for (const step of DEFAULT_STEPS) {
    if (step.percentage >= 100) break;
    const share = step.percentage / 100;
    let stepExposures = 0;
    for (let look = 0; look < LOOKS_PER_STEP || stepExposures < step.minExposures; look++) {
      const nt = Math.round(LOOK_TRAFFIC * share);
      const nc = LOOK_TRAFFIC - nt;
      treatment.exposures += nt;
      treatment.errors += binomial(nt, treatmentRate, random);
      control.exposures += nc;
      control.errors += binomial(nc, controlRate, random);
      stepExposures += nt;
      if (assessErrorRate(control, treatment, GUARD).verdict === 'regression') {
        return { rolledBack: true, exposures: control.exposures + treatment.exposures, treatmentExposures: treatment.exposures };
      }
    }
  }
  return { rolledBack: false, exposures: control.exposures + treatment.exposures, treatmentExposures: treatment.exposures };
}

const median = (xs: number[]) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
};

const scenarios = [
  { name: '(a) equal 1% vs 1%', control: 0.01, treatment: 0.01, target: 'false rollbacks ≤ 5%' },
  { name: '(b) 5% vs 1%', control: 0.01, treatment: 0.05, target: 'detected ≥ 99%' },
  { name: '(c) 2% vs 1%', control: 0.01, treatment: 0.02, target: 'detected ≥ 99%' },
] as const;

console.log(`guard: ${RUNS} simulated rollouts per scenario, ${LOOK_TRAFFIC} exposures per look, α = ${GUARD.alpha}, δ = ${GUARD.minRelativeIncrease}, min ${GUARD.minExposures} exposures per arm`);
let failed = false;
for (const [i, scenario] of scenarios.entries()) {
  const random = rng(option('seed', 7) * 1000 + i);
  const outcomes = Array.from({ length: RUNS }, () => simulate(scenario.control, scenario.treatment, random));
  const rolledBack = outcomes.filter((o) => o.rolledBack);
  const share = rolledBack.length / RUNS;
  const ok = scenario.treatment === scenario.control ? share <= 0.05 : share >= 0.99;
  failed ||= !ok;
  const detail = rolledBack.length
    ? `median exposures to rollback ${median(rolledBack.map((o) => o.exposures))} (v2: ${median(rolledBack.map((o) => o.treatmentExposures))})`
    : 'no rollbacks';
  console.log(`${scenario.name.padEnd(20)} rolled back ${(share * 100).toFixed(1).padStart(5)}%  ${detail}  [${scenario.target}: ${ok ? 'ok' : 'MISSED'}]`);
}
process.exit(failed ? 1 : 0);
