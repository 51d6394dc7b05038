import { describe, expect, it } from 'vitest';
import { mapWithConcurrency, Slots } from './concurrency';

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('Slots', () => {
  it('never lets more than its limit run at once, across users that share it', async () => {
    const slots = new Slots(3);
    let running = 0;
    let peak = 0;
    const job = () =>
      slots.use(async () => {
        running++;
        peak = Math.max(peak, running);
        await tick();
        running--;
      });
    // Two "batches" of 20, each with 8 workers of its own, share the 3 slots.
    await Promise.all([mapWithConcurrency(Array.from({ length: 20 }), 8, job), mapWithConcurrency(Array.from({ length: 20 }), 8, job)]);
    expect(peak).toBe(3);
    expect(running).toBe(0);
  });

  it('serves waiters in the order they came and frees the slot when the work fails', async () => {
    const slots = new Slots(1);
    const order: number[] = [];
    let release!: () => void;
    const first = slots.use(() => new Promise<void>((r) => (release = r)));
    const waiters = [1, 2, 3].map((n) => slots.use(async () => void order.push(n)));
    const failing = slots.use(async () => {
      throw new Error('boom');
    });
    await tick();
    expect(order).toEqual([]);
    release();
    await first;
    await Promise.all(waiters);
    await expect(failing).rejects.toThrow('boom');
    expect(order).toEqual([1, 2, 3]);
    // The failed holder gave its slot back.
    expect(await slots.use(async () => 'after')).toBe('after');
  });

  it('serves the lower rank first, whenever it came (the older batch before the newer)', async () => {
    const slots = new Slots(1);
    const order: string[] = [];
    let release!: () => void;
    const first = slots.use(() => new Promise<void>((r) => (release = r)));
    // The newer batch (rank 2) queues first; the older one (rank 1) queues after it.
    const newer = [1, 2].map((n) => slots.use(async () => void order.push(`newer ${n}`), 2));
    const older = [1, 2].map((n) => slots.use(async () => void order.push(`older ${n}`), 1));
    release();
    await Promise.all([first, ...newer, ...older]);
    expect(order).toEqual(['older 1', 'older 2', 'newer 1', 'newer 2']);
  });

  it('refuses a limit that is not a positive count', () => {
    expect(() => new Slots(0)).toThrow(RangeError);
    expect(() => new Slots(1.5)).toThrow(RangeError);
  });
});
