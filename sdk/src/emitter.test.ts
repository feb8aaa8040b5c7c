import { describe, expect, it } from 'vitest';
import { Emitter } from './emitter.js';

interface Events {
  ping: void;
  change: readonly string[];
}

describe('Emitter', () => {
  it('delivers typed payloads, unsubscribes, and fires once-listeners once', () => {
    const emitter = new Emitter<Events>();
    const seen: string[] = [];
    const off = emitter.on('change', (keys) => seen.push(keys.join(',')));
    emitter.once('ping', () => seen.push('ping'));
    emitter.emit('change', ['a', 'b']);
    emitter.emit('ping');
    emitter.emit('ping');
    off();
    emitter.emit('change', ['c']);
    expect(seen).toEqual(['a,b', 'ping']);
    expect(emitter.listenerCount('change')).toBe(0);
  });

  it('isolates a throwing listener from the others', () => {
    const errors: unknown[] = [];
    const emitter = new Emitter<Events>((e) => errors.push(e));
    let reached = false;
    emitter.on('ping', () => {
      throw new Error('listener bug');
    });
    emitter.on('ping', () => (reached = true));
    expect(() => emitter.emit('ping')).not.toThrow();
    expect(reached).toBe(true);
    expect(errors).toHaveLength(1);
  });

  it('lets a listener unsubscribe another during an emit without skipping anyone', () => {
    const emitter = new Emitter<Events>();
    const calls: number[] = [];
    const offSecond = emitter.on('ping', () => {
      calls.push(1);
      offSecond();
    });
    emitter.on('ping', () => calls.push(2));
    emitter.emit('ping');
    emitter.emit('ping');
    expect(calls).toEqual([1, 2, 2]);
  });
});
