import type { VersionVectors } from './quality.repository.ts';

/** Rows scored between two yields to the event loop: about a millisecond of work at 512-d. */
const ROWS_PER_SLICE = 4096;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Exact top k by inner product (cosine on unit vectors) of each query over `set`, brute force.
 * The ground truth ANN recall is measured against; it yields every few thousand rows so that a
 * large library never blocks the event loop for long.
 */
export async function exactTopK(
  set: VersionVectors,
  queries: readonly Float32Array[],
  k: number,
): Promise<{ id: bigint; score: number }[][]> {
  const { dimension: d, vectors, ids } = set;
  const best = queries.map(() => [] as { id: bigint; score: number }[]);
  for (let start = 0; start < ids.length; start += ROWS_PER_SLICE) {
    const end = Math.min(ids.length, start + ROWS_PER_SLICE);
    queries.forEach((q, qi) => {
      if (q.length !== d) throw new Error(`query of dimension ${q.length} over ${d}-d vectors`);
      const top = best[qi]!;
      for (let row = start; row < end; row++) {
        let score = 0;
        const base = row * d;
        for (let j = 0; j < d; j++) score += q[j]! * vectors[base + j]!;
        if (top.length < k || score > top[top.length - 1]!.score) {
          top.push({ id: ids[row]!, score });
          top.sort((a, b) => b.score - a.score);
          if (top.length > k) top.pop();
        }
      }
    });
    await yieldToEventLoop();
  }
  return best;
}
