/**
 * Runs `fn` over `items` with at most `limit` in flight. Each item settles on its own, so one
 * slow or failing item holds one slot, never the whole batch.
 */
export async function mapWithConcurrency<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = { status: 'fulfilled', value: await fn(items[index] as T, index) };
      } catch (reason) {
        results[index] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/**
 * At most `limit` holders at once, shared by whoever holds the same instance. Waiters are served by
 * rank, lowest first, and in arrival order within a rank: a rotation batch ranks its PUTs by when
 * it started, so the older batch finishes (and releases its registrations) before the newer one
 * takes its slots. `use` releases the slot however `fn` ends.
 */
export class Slots {
  private free: number;
  private readonly waiting: Array<{ rank: number; resolve: () => void }> = [];

  constructor(readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`Slots: the limit must be a positive integer, not ${limit}`);
    this.free = limit;
  }

  async use<R>(fn: () => Promise<R>, rank = 0): Promise<R> {
    if (this.free > 0) this.free--;
    else
      await new Promise<void>((resolve) => {
        const at = this.waiting.findIndex((w) => w.rank > rank);
        this.waiting.splice(at === -1 ? this.waiting.length : at, 0, { rank, resolve });
      });
    try {
      return await fn();
    } finally {
      // Handed straight to the next waiter (the slot never looks free in between), or freed.
      const next = this.waiting.shift();
      if (next) next.resolve();
      else this.free++;
    }
  }
}
