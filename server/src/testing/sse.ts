/** How long a test waits for an SSE event before failing. */
export const SSE_WAIT_MS = 5_000;

export interface SseEvent {
  event: string;
  id: string;
  data: string;
}

/** Reads an SSE response: events and comments as they arrive, waited for with a timeout. */
export class SseReader {
  events: SseEvent[] = [];
  comments: string[] = [];
  ended = false;
  private buffer = '';
  private waiters: (() => void)[] = [];

  constructor(readonly response: Response) {
    void this.pump();
  }

  private async pump(): Promise<void> {
    const reader = this.response.body!.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = this.buffer.indexOf('\n\n')) >= 0) {
          const block = this.buffer.slice(0, end);
          this.buffer = this.buffer.slice(end + 2);
          const event: SseEvent = { event: 'message', id: '', data: '' };
          let isEvent = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
            else {
              const [field, ...rest] = line.split(': ');
              (event as unknown as Record<string, string>)[field!] = rest.join(': ');
              isEvent = true;
            }
          }
          if (isEvent) this.events.push(event);
        }
        this.notify();
      }
    } catch {
      // aborted or reset: ended either way
    }
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** Resolve once `check` holds, or fail after SSE_WAIT_MS. */
  async until(what: string, check: () => boolean): Promise<void> {
    const deadline = Date.now() + SSE_WAIT_MS;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.events.map((e) => `${e.event} ${e.id}`))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async event(index: number): Promise<SseEvent> {
    await this.until(`event #${index}`, () => this.events.length > index);
    return this.events[index]!;
  }
}
