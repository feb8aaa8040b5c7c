import { afterEach, describe, expect, it, vi } from 'vitest';
import { PeriodicLoop } from './periodic-loop.js';

/** A run that finishes when the test says so. */
function gatedRun() {
  const releases: (() => void)[] = [];
  let runs = 0;
  const run = () => {
    runs += 1;
    return new Promise<number>((resolve) => releases.push(() => resolve(runs)));
  };
  return { run, runs: () => runs, finish: () => releases.shift()?.() };
}

describe('PeriodicLoop', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('shares a run under way with every tick asked for meanwhile, then runs afresh', async () => {
    const gate = gatedRun();
    const loop = new PeriodicLoop(1000, gate.run);
    const first = loop.tick();
    const second = loop.tick();
    expect(second).toBe(first);
    expect(gate.runs()).toBe(1);
    gate.finish();
    expect(await first).toBe(1);
    const third = loop.tick();
    expect(third).not.toBe(first);
    gate.finish();
    expect(await third).toBe(2);
  });

  it('runs at start and then every interval until stopped, and stop waits for the run under way', async () => {
    vi.useFakeTimers();
    const gate = gatedRun();
    const loop = new PeriodicLoop(1000, gate.run);
    expect(loop.running).toBe(false);
    loop.start();
    loop.start(); // a second start is a no-op
    expect(loop.running).toBe(true);
    expect(gate.runs()).toBe(1);
    gate.finish();
    await vi.advanceTimersByTimeAsync(1000);
    expect(gate.runs()).toBe(2);
    let stopped = false;
    const stopping = loop.stop().then(() => (stopped = true));
    expect(loop.running).toBe(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    gate.finish();
    await stopping;
    await vi.advanceTimersByTimeAsync(5000);
    expect(gate.runs()).toBe(2);
  });
});
