/**
 * Release stages as the product manager sees them. The server derives `stage` from targeting
 * (off | dogfood | N% | 100% | kill | custom); here we turn it into badges and stepper states.
 */
export interface Step {
  stage: string;
  label: string;
}

export const STEPS: readonly Step[] = [
  { stage: 'off', label: 'Off' },
  { stage: 'dogfood', label: 'Dogfood' },
  { stage: '10%', label: '10%' },
  { stage: '50%', label: '50%' },
  { stage: '100%', label: '100%' },
];

export type StageKind = 'off' | 'dogfood' | 'rollout' | 'full' | 'kill' | 'custom';

export interface StageView {
  kind: StageKind;
  /** Text shown in the badge: never colour alone. */
  label: string;
  /** A shape that differs per kind, for a second non-colour cue. */
  icon: string;
  percentage?: number;
}

const PERCENT = /^(\d{1,3}(?:\.\d{1,3})?)%$/;

export function describeStage(stage: string): StageView {
  if (stage === 'off') return { kind: 'off', label: 'Off', icon: '○' };
  if (stage === 'dogfood') return { kind: 'dogfood', label: 'Dogfood', icon: '◐' };
  if (stage === 'kill') return { kind: 'kill', label: 'Killed', icon: '✕' };
  const m = PERCENT.exec(stage);
  if (m) {
    const percentage = Number(m[1]);
    if (percentage >= 100) return { kind: 'full', label: '100%', icon: '●', percentage: 100 };
    return { kind: 'rollout', label: `${percentage}%`, icon: '◔', percentage };
  }
  return { kind: 'custom', label: 'Custom', icon: '⚙' };
}

/** Position on the ramp: off 0, dogfood 1, N% between 2 and 3; undefined off the ramp (kill, custom). */
export function stageRank(stage: string): number | undefined {
  const view = describeStage(stage);
  switch (view.kind) {
    case 'off':
      return 0;
    case 'dogfood':
      return 1;
    case 'rollout':
    case 'full':
      return 2 + view.percentage! / 100;
    default:
      return undefined;
  }
}

export type StepState = 'done' | 'current' | 'todo';

/** Each stepper step's state for the current stage (a custom 25% shows 10% done, 50% to do). */
export function stepStates(stage: string): StepState[] {
  const current = stageRank(stage);
  return STEPS.map((step) => {
    if (current === undefined) return 'todo';
    const rank = stageRank(step.stage)!;
    return rank === current ? 'current' : rank < current ? 'done' : 'todo';
  });
}

/** The next step up the ramp, for a "Next: 50%" hint; undefined at 100%, kill or custom. */
export function nextStep(stage: string): Step | undefined {
  const current = stageRank(stage);
  if (current === undefined) return STEPS[0];
  return STEPS.find((s) => stageRank(s.stage)! > current);
}

/** Validate a custom percentage typed by the user: `25`, `0.5`, `12.345` → "25%"; else an error. */
export function parsePercentage(input: string): { stage: string } | { error: string } {
  const text = input.trim().replace(/%$/, '').trim();
  if (!/^\d{1,3}(\.\d{1,3})?$/.test(text)) return { error: 'Enter a number from 0.001 to 100, with at most 3 decimals' };
  const value = Number(text);
  if (value <= 0 || value > 100) return { error: 'Enter a number from 0.001 to 100, with at most 3 decimals' };
  return { stage: `${Number(value.toFixed(3))}%` };
}
