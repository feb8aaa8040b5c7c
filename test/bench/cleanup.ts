/**
 * What a server benchmark must undo — servers, client processes, schemas, an embedded PostgreSQL —
 * run newest first, once: when the benchmark ends, fails, or is interrupted (Ctrl-C, SIGTERM), so
 * no run leaves processes or schemas behind.
 */
const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

export class Cleanup {
  private readonly steps: (() => unknown)[] = [];
  private running: Promise<void> | undefined;

  constructor() {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => void this.run().finally(() => process.exit(EXIT_CODES[signal])));
    }
  }

  add(step: () => unknown): void {
    this.steps.push(step);
  }

  /** Every step, newest first; a failing step is reported and the others still run. */
  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.reverse()) {
        try {
          await step();
        } catch (error) {
          console.error('cleanup:', error);
        }
      }
    })();
    return this.running;
  }
}
