import { describe, expect, it } from 'vitest';
import { describeStage, nextStep, parsePercentage, stepStates } from './stages.js';

describe('stage badges', () => {
  const cases = [
    { name: 'off', stage: 'off', expected: { kind: 'off', label: 'Off' } },
    { name: 'dogfood', stage: 'dogfood', expected: { kind: 'dogfood', label: 'Dogfood' } },
    { name: 'partial', stage: '12.5%', expected: { kind: 'rollout', label: '12.5%' } },
    { name: 'everyone', stage: '100%', expected: { kind: 'full', label: '100%' } },
    { name: 'killed', stage: 'kill', expected: { kind: 'kill', label: 'Killed' } },
    { name: 'custom', stage: 'custom', expected: { kind: 'custom', label: 'Custom' } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const view = describeStage(c.stage);
      expect(view).toMatchObject(c.expected);
      expect(view.icon).not.toBe('');
    });
  }
  it('gives each kind its own icon (not colour alone)', () => {
    const icons = ['off', 'dogfood', '10%', '100%', 'kill', 'custom'].map((s) => describeStage(s).icon);
    expect(new Set(icons).size).toBe(icons.length);
  });
});

describe('stepper', () => {
  const cases = [
    { name: 'off', stage: 'off', expected: ['current', 'todo', 'todo', 'todo', 'todo'] },
    { name: 'dogfood', stage: 'dogfood', expected: ['done', 'current', 'todo', 'todo', 'todo'] },
    { name: '10%', stage: '10%', expected: ['done', 'done', 'current', 'todo', 'todo'] },
    { name: 'custom 25% between steps', stage: '25%', expected: ['done', 'done', 'done', 'todo', 'todo'] },
    { name: '100%', stage: '100%', expected: ['done', 'done', 'done', 'done', 'current'] },
    { name: 'killed: no step current', stage: 'kill', expected: ['todo', 'todo', 'todo', 'todo', 'todo'] },
  ];
  for (const c of cases) it(c.name, () => expect(stepStates(c.stage)).toEqual(c.expected));

  it('suggests the next step', () => {
    expect(nextStep('off')?.stage).toBe('dogfood');
    expect(nextStep('dogfood')?.stage).toBe('10%');
    expect(nextStep('25%')?.stage).toBe('50%');
    expect(nextStep('100%')).toBeUndefined();
  });

  it('validates custom percentages', () => {
    expect(parsePercentage('25')).toEqual({ stage: '25%' });
    expect(parsePercentage(' 0.5 % ')).toEqual({ stage: '0.5%' });
    expect(parsePercentage('12.345')).toEqual({ stage: '12.345%' });
    for (const bad of ['', '0', '101', 'abc', '1.2345', '-5']) expect(parsePercentage(bad)).toHaveProperty('error');
  });
});
