import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaissIndex } from './faiss-index.ts';
import { loadNative } from './load-native.ts';
import { clusteredUnitVectors, recallAtK, sequentialIds } from './synthetic.ts';
import { searchRescored, VectorFile, writeVectorFile } from './vector-file.ts';

const DIM = 64;
const N = 5000;
const NQ = 50;
const base = clusteredUnitVectors({ count: N, dimension: DIM, clusters: 300, seed: 11 });
const queries = clusteredUnitVectors({ count: NQ, dimension: DIM, clusters: 300, seed: 12, centreSeed: 11 });
// Ids out of order, so the file has to sort them.
const ids = sequentialIds(N, 10n).reverse();

let dir: string;
let path: string;
let truth: BigInt64Array;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pixelfind-vectors-'));
  path = join(dir, 'vectors.bin');
  await writeVectorFile(path, DIM, base, ids);
  const flat = FaissIndex.create(DIM, 'Flat');
  await flat.add(base, ids);
  truth = (await flat.search(queries, 10)).ids;
  flat.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('VectorFile', () => {
  it('re-scores candidates exactly, best first, skipping -1 and unknown ids', async () => {
    const file = VectorFile.open(path);
    expect(file.count).toBe(N);
    expect(file.dimension).toBe(DIM);
    // Every vector as a candidate: the re-scored top 10 is the exact top 10.
    const everything = new BigInt64Array(NQ * (N + 2));
    for (let q = 0; q < NQ; q++) {
      everything.set(ids, q * (N + 2));
      everything[q * (N + 2) + N] = -1n;
      everything[q * (N + 2) + N + 1] = 999_999_999n;
    }
    const exact = await file.rescore(queries, everything, 10);
    expect(exact.ids).toEqual(truth);
    // Fewer candidates than k: padded.
    const few = await file.rescore(queries.subarray(0, DIM), ids.subarray(0, 2), 3);
    expect(few.ids[2]).toBe(-1n);
    expect(few.distances[2]).toBe(-Infinity);
    file.close();
    await expect(file.rescore(queries, ids, 1)).rejects.toThrow('The vector file is closed');
  });

  it('lifts IVF-PQ recall by re-scoring its short list with the full vectors', async () => {
    const index = FaissIndex.create(DIM, 'IVF16,PQ8');
    await index.train(base);
    await index.add(base, ids);
    const file = VectorFile.open(path);
    const plain = recallAtK(truth, (await index.search(queries, 10, { nprobe: 16 })).ids, 10);
    const rescored = recallAtK(
      truth,
      (await searchRescored(index, file, queries, 10, { nprobe: 16, candidates: 100 })).ids,
      10,
    );
    expect(rescored).toBeGreaterThan(plain);
    expect(rescored).toBeGreaterThan(0.9);
    index.close();
    file.close();
  });

  it('re-scores within the index search exactly as search then rescore would, and refuses what does not fit', async () => {
    const index = FaissIndex.create(DIM, 'IVF64,PQ16x4fs');
    await index.train(base);
    await index.add(base, ids);
    const file = VectorFile.open(path);
    for (const nprobe of [1, 8, 64]) {
      const shortList = await index.search(queries, 100, { nprobe });
      const twoCalls = await file.rescore(queries, shortList.ids, 10);
      const oneCall = await index.searchRescored(queries, 10, file, 100, { nprobe });
      expect(oneCall.ids).toEqual(twoCalls.ids);
      expect(oneCall.distances).toEqual(twoCalls.distances);
    }
    // a filter the fast scan applies after its search: the re-score sees allowed ids only
    const allowed = ids.filter((_, i) => i % 3 === 0);
    const filtered = await index.searchRescored(queries, 10, file, 100, { nprobe: 64, allowedIds: allowed });
    const allowedSet = new Set(allowed);
    for (const id of filtered.ids) if (id >= 0n) expect(allowedSet.has(id)).toBe(true);
    await expect(index.searchRescored(queries, 10, file, 5)).rejects.toThrow(/shortList at least k/);
    const other = FaissIndex.create(DIM * 2, 'Flat');
    await expect(other.searchRescored(new Float32Array(DIM * 2), 1, file, 1)).rejects.toThrow(/dimension/);
    other.close();
    // the addon itself refuses anything but one of its vector files, and a rescoreK past k
    const native = loadNative().create(DIM, 'Flat');
    const query = queries.subarray(0, DIM);
    expect(() => native.search(query, 5, { rescore: {} as never, rescoreK: 5 })).toThrow(/NativeVectorFile/);
    file.withNative((handle) =>
      expect(() => native.search(query, 5, { rescore: handle, rescoreK: 6 })).toThrow(/rescoreK/),
    );
    native.close();
    file.close();
    await expect(index.searchRescored(queries, 10, file, 100)).rejects.toThrow(/closed/);
    index.close();
  });

  it('refuses duplicate ids, and a truncated or foreign file', async () => {
    const twice = new BigInt64Array([1n, 2n, 1n]);
    await expect(
      writeVectorFile(join(dir, 'dup.bin'), DIM, base.subarray(0, 3 * DIM), twice),
    ).rejects.toThrow('Expected unique ids but 1 repeats');
    const cut = join(dir, 'cut.bin');
    await writeVectorFile(cut, DIM, base.subarray(0, 10 * DIM), ids.subarray(0, 10));
    await truncate(cut, 500);
    expect(() => VectorFile.open(cut)).toThrow(
      `Vector file ${cut}: size does not match its header (corrupt or truncated)`,
    );
    const foreign = join(dir, 'foreign.bin');
    await writeFile(foreign, Buffer.alloc(64, 7));
    expect(() => VectorFile.open(foreign)).toThrow('bad magic (corrupt or not a vector file)');
    expect(() => VectorFile.open(join(dir, 'missing.bin'))).toThrow('No such file or directory');
  });
});
