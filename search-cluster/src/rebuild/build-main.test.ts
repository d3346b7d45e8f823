import { describe, expect, it } from 'vitest';
import { FaissIndex, getFaissThreads, setFaissThreads } from '../faiss/faiss-index.ts';
import { clusteredUnitVectors, sequentialIds } from '../faiss/synthetic.ts';
import { ivfpqFactory } from './build-main.ts';

describe('ivfpqFactory', () => {
  it('chooses residual fast-scan codes, nlist ~ 4 sqrt(n) and m = d/8 (at least 16)', () => {
    expect(ivfpqFactory(400_000, 512)).toBe('IVF2048,PQ64x4fsr');
    expect(ivfpqFactory(100_000, 512)).toBe('IVF1024,PQ64x4fsr');
    expect(ivfpqFactory(20_000, 64)).toBe('IVF512,PQ16x4fsr');
    // a small shard: at least 39 training points a list
    expect(ivfpqFactory(4_000, 64)).toBe('IVF64,PQ16x4fsr');
  });

  it("ranks a short list of one region's vectors better with residual codes than with raw ones", async () => {
    // one region of the space, as a cluster-partitioned shard holds: centres drawn around a few
    // family centres. Raw 4-bit codes spend their 16 centroids a sub-quantiser on the region's
    // spread; residual codes on a list's.
    const dim = 64;
    const n = 20_000;
    const nq = 200;
    const k = 10;
    const shortList = k * 8;
    const shape = { dimension: dim, clusters: 1000, families: 4 };
    const base = clusteredUnitVectors({ ...shape, count: n, seed: 11 });
    const queries = clusteredUnitVectors({ ...shape, count: nq, seed: 12, centreSeed: 11 });
    const ids = sequentialIds(n);
    const threads = getFaissThreads();
    // one thread: k-means' training gives the same codebooks on every run
    setFaissThreads(1);
    const exact = FaissIndex.create(dim, 'Flat');
    await exact.add(base, ids);
    const truth = (await exact.search(queries, k)).ids;
    exact.close();
    const found = async (factory: string): Promise<number> => {
      const index = FaissIndex.create(dim, factory);
      await index.train(base);
      await index.add(base, ids);
      const { ids: listed } = await index.search(queries, shortList, { nprobe: 32 });
      index.close();
      let hits = 0;
      for (let q = 0; q < nq; q++) {
        const list = new Set(listed.subarray(q * shortList, (q + 1) * shortList));
        for (let j = 0; j < k; j++) if (list.has(truth[q * k + j]!)) hits++;
      }
      return hits / (nq * k);
    };
    const factory = ivfpqFactory(n, dim);
    let residual: number;
    let raw: number;
    try {
      residual = await found(factory);
      raw = await found(factory.replace(/x4fsr$/, 'x4fs'));
    } finally {
      setFaissThreads(threads);
    }
    expect(factory.endsWith('x4fsr')).toBe(true);
    expect(residual).toBeGreaterThan(raw + 0.02);
  });
});
