/**
 * A leader-only periodic job (the release runner, the scheduler, housekeeping): `start` runs it now
 * and then every `everyMs`, `stop` ends the timer and waits for a run under way, and a run asked
 * for while one is under way shares it rather than starting a second. The timer is unref'd so it
 * never keeps the process alive. `run` must not throw: each job logs its own failures.
 */
export class PeriodicLoop<T> {
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<T> | null = null;

  constructor(
    private readonly everyMs: number,
    private readonly run: () => Promise<T>,
  ) {}

  get running(): boolean {
    return this.timer !== undefined;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.everyMs);
    this.timer.unref();
    void this.tick();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.current;
  }

  /** Run the job now, or join the run under way. */
  tick(): Promise<T> {
    this.current ??= this.once();
    return this.current;
  }

  private async once(): Promise<T> {
    try {
      return await this.run();
    } finally {
      this.current = null;
    }
  }
}
