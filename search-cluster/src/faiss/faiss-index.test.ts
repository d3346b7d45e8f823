import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaissIndex, getFaissThreads, setFaissThreads } from './faiss-index.ts';
import { clusteredUnitVectors, recallAtK, sequentialIds } from './synthetic.ts';

const DIM = 32;
const N = 4000;
const NQ = 100;
const base = clusteredUnitVectors({ count: N, dimension: DIM, clusters: 200, seed: 1 });
const queries = clusteredUnitVectors({ count: NQ, dimension: DIM, clusters: 200, seed: 2, centreSeed: 1 });
const ids = sequentialIds(N, 1_000_000_000_000n);
/** IVF-PQ fast scan: 4-bit PQ codes in blocks of 32, searched with SIMD lookups. */
const FAST_SCAN = 'IVF16,PQ16x4fs';

let dir: string;
let truth: BigInt64Array;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pixelfind-faiss-'));
  truth = bruteForce(base, ids, queries, 10);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Exact top-k by inner product, in plain TypeScript, as the reference. */
function bruteForce(
  vectors: Float32Array,
  vectorIds: BigInt64Array,
  qs: Float32Array,
  k: number,
): BigInt64Array {
  const n = vectors.length / DIM;
  const out = new BigInt64Array((qs.length / DIM) * k);
  for (let q = 0; q < qs.length / DIM; q++) {
    const scores: Array<[number, bigint]> = [];
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < DIM; j++) s += qs[q * DIM + j]! * vectors[i * DIM + j]!;
      scores.push([s, vectorIds[i]!]);
    }
    scores.sort((a, b) => b[0] - a[0]);
    for (let j = 0; j < k; j++) out[q * k + j] = scores[j]![1];
  }
  return out;
}

async function filled(factory: string): Promise<FaissIndex> {
  const index = FaissIndex.create(DIM, factory);
  if (!index.isTrained) await index.train(base);
  await index.add(base, ids);
  return index;
}

describe('FaissIndex', () => {
  it('finds the exact neighbours under our own int64 ids with a Flat index', async () => {
    const index = await filled('Flat');
    expect(index.kind).toBe('flat');
    expect(index.count).toBe(N);
    expect(index.dimension).toBe(DIM);
    expect(index.memoryBytes).toBeGreaterThanOrEqual(N * DIM * 4);
    const { ids: found, distances } = await index.search(queries, 10);
    expect(recallAtK(truth, found, 10)).toBe(1);
    expect(distances[0]).toBeGreaterThanOrEqual(distances[1]!);
    index.close();
  });

  it('removes ids so they never come back, and the remaining ids still map to their vectors', async () => {
    for (const factory of ['Flat', 'IVF16,Flat']) {
      const index = await filled(factory);
      const removed = ids.filter((_, i) => i % 2 === 0);
      expect(await index.remove(removed)).toBe(N / 2);
      expect(await index.remove(removed)).toBe(0);
      expect(index.count).toBe(N / 2);
      // query = an odd row itself: its own id must be the best hit
      const row = 7;
      const { ids: found } = await index.search(base.slice(row * DIM, (row + 1) * DIM), 5, { nprobe: 16 });
      expect(found[0]).toBe(ids[row]);
      const all = await index.search(queries, 50, { nprobe: 16 });
      const gone = new Set(removed);
      expect(Array.from(all.ids).filter((id) => gone.has(id))).toEqual([]);
      index.close();
    }
  });

  it('removes from IVF fast scan (which FAISS 1.7.3 cannot) as if the removed vectors were never added', async () => {
    // three copies of one trained, empty index: the same quantizers, so the same 4-bit codes
    const trained = FaissIndex.create(DIM, FAST_SCAN);
    await trained.train(base);
    const empty = await trained.toBuffer();
    const [shrunk, kept, full] = await Promise.all([0, 1, 2].map(() => FaissIndex.fromBuffer(empty)));
    const odd = (_: unknown, i: number) => i % 2 === 1;
    const even = (_: unknown, i: number) => i % 2 === 0;
    await shrunk!.add(base, ids);
    await kept!.add(
      base.filter((_, j) => odd(0, Math.floor(j / DIM))),
      ids.filter(odd),
    );
    await full!.add(base, ids);
    expect(await shrunk!.remove(ids.filter(even))).toBe(N / 2);
    expect(await shrunk!.remove(ids.filter(even))).toBe(0);
    expect(shrunk!.count).toBe(N / 2);
    const options = { nprobe: 16 };
    const after = await shrunk!.search(queries, 50, options);
    const gone = new Set(ids.filter(even));
    expect(Array.from(after.ids).filter((id) => gone.has(id))).toEqual([]);
    // fast-scan scores are quantised, so equal scores are common and tie order may differ: compare
    // the scores, which are the same whatever order the lists hold
    expect(after.distances).toEqual((await kept!.search(queries, 50, options)).distances);
    // adding back into the vacated slots must not mix old codes with new ones
    await shrunk!.add(
      base.filter((_, j) => even(0, Math.floor(j / DIM))),
      ids.filter(even),
    );
    expect((await shrunk!.search(queries, 50, options)).distances).toEqual(
      (await full!.search(queries, 50, options)).distances,
    );
    for (const index of [trained, shrunk!, kept!, full!]) index.close();
  });

  it('pads with -1n when fewer than k vectors exist, and answers an empty index with -1n', async () => {
    const empty = FaissIndex.create(DIM, 'HNSW16');
    const none = await empty.search(queries.subarray(0, DIM), 3);
    expect(Array.from(none.ids)).toEqual([-1n, -1n, -1n]);
    expect(Array.from(none.distances)).toEqual([-Infinity, -Infinity, -Infinity]);
    await empty.add(base.subarray(0, 2 * DIM), ids.subarray(0, 2));
    const two = await empty.search(queries.subarray(0, DIM), 3);
    expect(two.ids[2]).toBe(-1n);
    expect(new Set([two.ids[0], two.ids[1]])).toEqual(new Set([ids[0], ids[1]]));
    empty.close();
  });

  it('reaches high recall with HNSW32 and more with a larger efSearch', async () => {
    const index = FaissIndex.create(DIM, 'HNSW32', { efConstruction: 80 });
    await index.add(base, ids);
    expect(index.kind).toBe('hnsw');
    const low = recallAtK(truth, (await index.search(queries, 10, { efSearch: 10 })).ids, 10);
    const high = recallAtK(truth, (await index.search(queries, 10, { efSearch: 200 })).ids, 10);
    expect(high).toBeGreaterThan(0.97);
    expect(high).toBeGreaterThan(low);
    // FAISS 1.7.3 sizes the HNSW queue from the index's own efSearch; concurrent calls that ask
    // for different values must still each get their own.
    const mixed = await Promise.all(
      [10, 200, 10, 200].map((efSearch) => index.search(queries, 10, { efSearch })),
    );
    expect(mixed.map((result) => recallAtK(truth, result.ids, 10))).toEqual([low, high, low, high]);
    await expect(index.remove(ids.subarray(0, 1))).rejects.toThrow(/remove_ids not implemented/);
    index.close();
  });

  it('needs training for IVF, and nprobe trades speed for recall', async () => {
    const index = FaissIndex.create(DIM, 'IVF64,Flat');
    expect(index.isTrained).toBe(false);
    await expect(index.add(base, ids)).rejects.toThrow(
      'Expected a trained index before add but this ivf index is not trained; call train() first',
    );
    await index.train(base);
    expect(index.isTrained).toBe(true);
    await index.add(base, ids);
    const recall = async (nprobe: number) =>
      recallAtK(truth, (await index.search(queries, 10, { nprobe })).ids, 10);
    const one = await recall(1);
    const all = await recall(64);
    expect(one).toBeLessThan(0.9);
    expect(all).toBe(1);
    index.close();
  });

  it('takes nprobe per call with IVF fast scan, which refuses per-call parameters in FAISS 1.7.3', async () => {
    const index = await filled(FAST_SCAN);
    expect(index.kind).toBe('ivf');
    const recall = async (nprobe: number) =>
      recallAtK(truth, (await index.search(queries, 10, { nprobe })).ids, 10);
    const one = await recall(1);
    const all = await recall(16);
    expect(all).toBeGreaterThan(one + 0.1);
    // the member is set for each call; concurrent calls that ask for different values each get theirs
    const mixed = await Promise.all([1, 16, 1, 16].map((nprobe) => index.search(queries, 10, { nprobe })));
    expect(mixed.map((result) => recallAtK(truth, result.ids, 10))).toEqual([one, all, one, all]);
    // more lists than exist means all of them
    expect(await recall(1000)).toBe(all);
    index.close();
  });

  it('returns only allowed ids, with every index kind', async () => {
    const allowed = ids.filter((_, i) => i % 10 === 3);
    const allowedSet = new Set(allowed);
    for (const factory of ['Flat', 'HNSW32', 'IVF32,Flat', FAST_SCAN]) {
      const index = await filled(factory);
      const result = await index.search(queries, 20, { allowedIds: allowed, nprobe: 32, efSearch: 400 });
      const returned = Array.from(result.ids).filter((id) => id !== -1n);
      expect(returned.length).toBeGreaterThan(NQ * 15);
      expect(returned.every((id) => allowedSet.has(id))).toBe(true);
      // repeats, ids of no vector and the extreme int64 values select nothing more
      const noisy = BigInt64Array.from([
        ...allowed,
        ...allowed.subarray(0, 50),
        -1n,
        -(2n ** 63n),
        2n ** 63n - 1n,
      ]);
      const again = await index.search(queries, 20, { allowedIds: noisy, nprobe: 32, efSearch: 400 });
      expect(Array.from(again.ids)).toEqual(Array.from(result.ids));
      const nothing = await index.search(queries.subarray(0, DIM), 5, { allowedIds: new BigInt64Array(0) });
      expect(Array.from(nothing.ids)).toEqual([-1n, -1n, -1n, -1n, -1n]);
      index.close();
    }
  });

  it('gives the same answers after a round trip through a file and a buffer', async () => {
    for (const factory of ['Flat', 'HNSW32', 'IVF32,PQ8', FAST_SCAN]) {
      const index = await filled(factory);
      const before = await index.search(queries, 10, { nprobe: 8, efSearch: 64 });
      const path = join(dir, `${factory.replace(/\W/g, '_')}.faiss`);
      await index.write(path);
      const fromFile = await FaissIndex.read(path);
      const fromBuffer = await FaissIndex.fromBuffer(await index.toBuffer());
      expect((await readFile(path)).equals(await index.toBuffer())).toBe(true);
      for (const copy of [fromFile, fromBuffer]) {
        expect(copy.count).toBe(N);
        expect(copy.kind).toBe(index.kind);
        expect(await copy.search(queries, 10, { nprobe: 8, efSearch: 64 })).toEqual(before);
        copy.close();
      }
      index.close();
    }
  });

  it('rejects a corrupt or missing snapshot instead of crashing', async () => {
    const index = await filled('Flat');
    const bytes = await index.toBuffer();
    index.close();
    await expect(FaissIndex.fromBuffer(bytes.subarray(0, bytes.length / 2))).rejects.toThrow(
      /^Could not read FAISS index from buffer: fromBuffer failed: read error/,
    );
    await expect(FaissIndex.fromBuffer(Buffer.from('not an index at all'))).rejects.toThrow(
      'Could not read FAISS index from buffer: fromBuffer failed: Index type 0x20746f6e ("not ") not recognized',
    );
    const path = join(dir, 'corrupt.faiss');
    await writeFile(path, bytes.subarray(0, 100));
    await expect(FaissIndex.read(path)).rejects.toThrow(
      `Could not read FAISS index from ${path}: read failed:`,
    );
    await expect(FaissIndex.read(join(dir, 'missing.faiss'))).rejects.toThrow(
      /could not open .*missing\.faiss for reading/,
    );
  });

  it('rejects calls after close', async () => {
    const index = FaissIndex.create(DIM, 'Flat');
    index.close();
    await expect(index.search(queries.subarray(0, DIM), 1)).rejects.toThrow('The index is closed');
    await expect(index.add(base.subarray(0, DIM), ids.subarray(0, 1))).rejects.toThrow('The index is closed');
  });

  it('orders writes against searches: a search queued behind an add sees the added vectors', async () => {
    const index = FaissIndex.create(DIM, 'Flat');
    const adding = index.add(base, ids);
    const searching = index.search(queries, 10);
    const removing = index.remove(ids.subarray(0, N / 2));
    const searchingAfter = index.search(queries, 10);
    await adding;
    expect(recallAtK(truth, (await searching).ids, 10)).toBe(1);
    expect(await removing).toBe(N / 2);
    const low = new Set(ids.subarray(0, N / 2));
    expect(Array.from((await searchingAfter).ids).some((id) => low.has(id))).toBe(false);
    index.close();
  });

  it('answers concurrent searches exactly as it answers them one at a time', async () => {
    for (const factory of ['Flat', 'HNSW32', 'IVF32,Flat', FAST_SCAN]) {
      const index = await filled(factory);
      // 40 queries per call takes the BLAS path for Flat; 4 takes the scalar one.
      const batches = [0, 40, 80, 4, 44, 84].map((start) =>
        queries.subarray(start * DIM, (start + (start % 40 === 0 ? 40 : 4)) * DIM),
      );
      const serial: unknown[] = [];
      for (const batch of batches) serial.push(await index.search(batch, 10, { nprobe: 8, efSearch: 64 }));
      const concurrent = await Promise.all(
        batches.map((batch) => index.search(batch, 10, { nprobe: 8, efSearch: 64 })),
      );
      expect(concurrent).toEqual(serial);
      index.close();
    }
  });

  it('sets the number of FAISS threads', () => {
    setFaissThreads(1);
    expect(getFaissThreads()).toBe(1);
    setFaissThreads(0);
    expect(getFaissThreads()).toBeGreaterThanOrEqual(1);
  });
});
