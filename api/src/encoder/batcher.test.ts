import { describe, expect, it } from 'vitest';
import { DynamicBatcher } from './batcher.ts';

describe('DynamicBatcher', () => {
  it('groups items pushed together into one call, up to maxBatch', async () => {
    const calls: number[][] = [];
    const batcher = new DynamicBatcher<number, number>(
      async (items) => {
        calls.push(items);
        return items.map((x) => x * 2);
      },
      { maxBatch: 4, maxWaitMs: 5 },
    );
    const results = await batcher.pushMany([1, 2, 3, 4, 5, 6]);
    expect(results).toEqual([2, 4, 6, 8, 10, 12]);
    expect(calls).toEqual([
      [1, 2, 3, 4],
      [5, 6],
    ]);
  });

  it('runs one call at a time and batches what arrives meanwhile', async () => {
    const calls: number[][] = [];
    let running = 0;
    let maxRunning = 0;
    const batcher = new DynamicBatcher<number, number>(
      async (items) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        calls.push(items);
        await new Promise((r) => setTimeout(r, 20));
        running--;
        return items;
      },
      { maxBatch: 16, maxWaitMs: 1 },
    );
    const first = batcher.push(1);
    await new Promise((r) => setTimeout(r, 5)); // first batch is running now
    const rest = [2, 3, 4].map((x) => batcher.push(x));
    await Promise.all([first, ...rest]);
    expect(maxRunning).toBe(1);
    expect(calls).toEqual([[1], [2, 3, 4]]);
  });

  it('with maxWaitMs 0 still batches what is pushed in the same tick', async () => {
    const calls: number[][] = [];
    const batcher = new DynamicBatcher<number, number>(
      async (items) => {
        calls.push(items);
        return items;
      },
      { maxBatch: 16, maxWaitMs: 0 },
    );
    await batcher.pushMany([1, 2, 3]);
    expect(calls).toEqual([[1, 2, 3]]);
  });

  it('fails only the items of a failing batch', async () => {
    const batcher = new DynamicBatcher<number, number>(
      async (items) => {
        if (items.includes(13)) throw new Error('unlucky');
        return items;
      },
      { maxBatch: 2, maxWaitMs: 1 },
    );
    const results = await Promise.allSettled([batcher.push(13), batcher.push(1), batcher.push(2)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
  });

  it('finishes queued work on close and then refuses new items', async () => {
    const batcher = new DynamicBatcher<number, number>(async (items) => items, {
      maxBatch: 8,
      maxWaitMs: 50,
    });
    const pending = batcher.push(7);
    await batcher.close();
    await expect(pending).resolves.toBe(7);
    await expect(batcher.push(8)).rejects.toThrow(/closed/);
  });

  it('validates its options like the rest of the API', () => {
    expect(() => new DynamicBatcher(async (x) => x, { maxBatch: -1 })).toThrow(
      'Expected positive integer for maxBatch but received -1 of type number',
    );
  });
});
