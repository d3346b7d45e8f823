import { MainTier, type MainTierKind, type MainTierSearchParams } from '../shard/main-tier.ts';
import type { Partition } from '../shard/partition.ts';
import { MemoryRowStore, type RowStore, VectorFileStore } from '../shard/row-store.ts';
import type { VectorIndex, VectorIndexFactory } from '../shard/vector-index.ts';
import { calibrateNprobe, type NprobeCalibration } from './calibrate-nprobe.ts';
import { readIds, writeSnapshot } from './snapshot.ts';
import type { VectorRecord } from './vector-source.ts';

export interface MainTierChoiceOptions {
  /** Force a structure, or 'auto' to choose by size. Default 'auto'. */
  mainTier: 'auto' | MainTierKind;
  /** 'auto': exact Flat up to this many vectors. Default 20_000. */
  flatMaxVectors: number;
  /** 'auto': HNSW up to this many vectors, IVF-PQ with re-scoring above. Default 300_000. */
  hnswMaxVectors: number;
  /** HNSW neighbours per node. Default 32. */
  hnswM: number;
  /** IVF-PQ factory string; by default chosen from size and dimension (see `ivfpqFactory`). */
  ivfpqFactory?: string;
}

/** Below this many vectors IVF-PQ does not pay (and 8-bit PQ cannot train: 256 points per sub-quantiser), so Flat it is. */
export const IVFPQ_MIN_VECTORS = 2048;

/**
 * `IVF{nlist},PQ{m}x4fs`, IVF-PQ fast scan: 4-bit codes that FAISS scans 32 at a time with SIMD
 * table lookups, several times faster per code than 8-bit PQ, so the tier can probe the many lists
 * a recall of 0.95 needs (text queries most) and still outrun fp32 HNSW: at 100k x 512,
 * IVF512,PQ64x4fs with a re-score reached recall 0.97 at 1.75x fp32 HNSW32's QPS for image queries
 * and 3.7x for text ones, in 53 B/vector (bench/results/ann.md). The re-score from full vectors
 * makes up for the coarse codes. nlist ~ 4 sqrt(n) (a power of two, at least 39 training points
 * per list); m the largest divisor of the dimension not above max(dimension/8, 16): 512-d -> 64
 * sub-quantisers, 32 bytes of codes per vector; small dimensions keep at least 16 codes, as fewer
 * 4-bit codes rank a short list too coarsely to re-score.
 *
 * The codes encode raw vectors (`x4fs`: FAISS's by_residual off), not residuals from the list
 * centroid (`x4fsr`). Residual codes were measured (2026-12-03): they lifted image-like queries on
 * cluster-partitioned shards (400k x 512, the nearest shard's 80-candidate short list: recall@10
 * 0.932 -> 0.986; bench/results/router-512d-residual.md: 4 clustered shards +4.8% CPU at recall
 * 0.979 against one shard's 0.966), but cut bench:search's served recall@100 at 1M, whose queries
 * are text embeddings apart from the images, from 0.878 to 0.692 at every nprobe
 * (search-residual.md against search.md). Text queries are the product's main kind, so raw codes
 * stay. A likely cause, not verified: with residual codes FAISS quantises each probed list's
 * coarse score into the same 16-bit accumulator as the codes' table lookups, and for a query far
 * from the data those scores span a range that costs the lookups their resolution.
 */
export function ivfpqFactory(n: number, dimension: number): string {
  const target = Math.max(1, Math.min(4 * Math.sqrt(n), n / 39, 65536));
  const nlist = 2 ** Math.max(0, Math.floor(Math.log2(target)));
  let m = Math.min(dimension, Math.max(16, Math.floor(dimension / 8)));
  while (dimension % m !== 0) m--;
  return `IVF${nlist},PQ${m}x4fs`;
}

export function chooseMainTier(
  n: number,
  dimension: number,
  options: MainTierChoiceOptions,
): { kind: MainTierKind; factory: string } {
  let kind: MainTierKind = options.mainTier === 'auto' ? 'ivfpq' : options.mainTier;
  if (options.mainTier === 'auto') {
    if (n <= options.flatMaxVectors) kind = 'flat';
    else if (n <= options.hnswMaxVectors) kind = 'hnsw';
  }
  if (kind === 'ivfpq' && n < IVFPQ_MIN_VECTORS) kind = 'flat';
  switch (kind) {
    case 'flat':
      return { kind, factory: 'Flat' };
    case 'hnsw':
      return { kind, factory: `HNSW${options.hnswM}` };
    case 'ivfpq':
      return { kind, factory: options.ivfpqFactory ?? ivfpqFactory(n, dimension) };
  }
}

export interface CollectedVectors {
  ids: BigInt64Array;
  vectors: Float32Array;
  /** Records dropped because their vector had the wrong length or non-finite values. */
  skipped: number;
}

/**
 * Reads the records this shard owns into two flat arrays. A later record for the same id replaces
 * the earlier one; malformed vectors are counted and skipped, not fatal (one bad row must not block
 * every rebuild).
 */
export async function collectVectors(
  records: AsyncIterable<VectorRecord>,
  dimension: number,
  owns: (id: bigint, vector: Float32Array) => boolean,
  signal?: AbortSignal,
): Promise<CollectedVectors> {
  let capacity = 1024;
  let ids = new BigInt64Array(capacity);
  let vectors = new Float32Array(capacity * dimension);
  const rowOf = new Map<bigint, number>();
  let n = 0;
  let skipped = 0;
  for await (const { id, vector } of records) {
    signal?.throwIfAborted();
    // a malformed vector is still owned by one shard (a placement sends it to one deterministically)
    if (!owns(id, vector)) continue;
    if (vector.length !== dimension || !vector.every(Number.isFinite)) {
      skipped++;
      continue;
    }
    const existing = rowOf.get(id);
    if (existing !== undefined) {
      vectors.set(vector, existing * dimension);
      continue;
    }
    if (n === capacity) {
      capacity *= 2;
      const grownIds = new BigInt64Array(capacity);
      grownIds.set(ids);
      ids = grownIds;
      const grownVectors = new Float32Array(capacity * dimension);
      grownVectors.set(vectors);
      vectors = grownVectors;
    }
    ids[n] = id;
    vectors.set(vector, n * dimension);
    rowOf.set(id, n);
    n++;
  }
  return { ids: ids.slice(0, n), vectors: vectors.slice(0, n * dimension), skipped };
}

/** Deterministic sample of rows for training (a partial Fisher-Yates shuffle with a fixed seed). */
export function trainingSample(vectors: Float32Array, dimension: number, size: number): Float32Array {
  const n = vectors.length / dimension;
  if (size >= n) return vectors;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let state = 0x2545f491;
  const out = new Float32Array(size * dimension);
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const j = i + ((state >>> 0) % (n - i));
    const tmp = order[i]!;
    order[i] = order[j]!;
    order[j] = tmp;
    out.set(vectors.subarray(order[i]! * dimension, order[i]! * dimension + dimension), i * dimension);
  }
  return out;
}

/** Creates, trains (when the structure needs it) and fills the main tier's ANN index. */
export async function buildIndex(
  factory: VectorIndexFactory,
  factoryString: string,
  dimension: number,
  { ids, vectors }: { ids: BigInt64Array; vectors: Float32Array },
  signal?: AbortSignal,
): Promise<VectorIndex> {
  const index = factory.create(dimension, factoryString);
  try {
    if (!index.isTrained) {
      const nlist = Number(/IVF(\d+)/.exec(factoryString)?.[1] ?? 256);
      const sampleSize = Math.min(ids.length, Math.max(nlist * 64, 16_384), 262_144);
      await index.train(trainingSample(vectors, dimension, sampleSize));
    }
    // batches keep each native call (and the copy it makes) bounded
    const batch = 65_536;
    for (let start = 0; start < ids.length; start += batch) {
      signal?.throwIfAborted();
      const end = Math.min(ids.length, start + batch);
      await index.add(vectors.subarray(start * dimension, end * dimension), ids.subarray(start, end));
    }
    return index;
  } catch (error) {
    index.close();
    throw error;
  }
}

export interface BuildMainTierOptions {
  factory: VectorIndexFactory;
  dimension: number;
  tiers: MainTierChoiceOptions;
  params: MainTierSearchParams;
  /** Serve full vectors memory-mapped from the snapshot written (when one is). */
  onDisk: boolean;
  signal?: AbortSignal;
  /** Source watermark the vectors reflect. */
  watermark: bigint;
  /** Where to write the snapshot; null: none (nothing survives a restart). */
  snapshot: { dataDir: string; modelVersion: string; partition: Partition } | null;
  /** A snapshot that fails to write does not fail the build: the tier is served from memory. */
  onSnapshotError(error: unknown): void;
  /** Measure an IVF tier's default nprobe on its own rows (calibrate-nprobe.ts). Default true. */
  calibrate?: boolean;
}

/**
 * Builds a main tier from collected vectors: choose the structure, build the ANN index, calibrate
 * an IVF tier's nprobe, write the snapshot, open the row store (the snapshot's vector file, or
 * memory). Nothing opened is left open when it throws.
 */
export async function buildMainTier(
  collected: CollectedVectors,
  options: BuildMainTierOptions,
): Promise<{ tier: MainTier; snapshotDir: string | null; calibration: NprobeCalibration | null }> {
  const d = options.dimension;
  const choice = chooseMainTier(collected.ids.length, d, options.tiers);
  const index = await buildIndex(options.factory, choice.factory, d, collected, options.signal);
  let store: RowStore | null = null;
  let snapshotDir: string | null = null;
  let calibration: NprobeCalibration | null = null;
  // row order of `store`: arrival order in memory, id order in the snapshot's vector file
  let ids = collected.ids;
  try {
    if (choice.kind === 'ivfpq' && options.calibrate !== false) {
      options.signal?.throwIfAborted();
      // the serving path over the rows in memory; the index stays open for the tier below
      const trial = new MainTier({
        ...choice,
        index,
        ids: collected.ids,
        store: new MemoryRowStore(collected.vectors, d),
        watermark: options.watermark,
        params: options.params,
      });
      calibration = await calibrateNprobe(trial, collected, options.params.nprobe);
    }
    if (options.snapshot) {
      const { dataDir, ...where } = options.snapshot;
      try {
        const written = await writeSnapshot(dataDir, {
          ...where,
          watermark: options.watermark,
          kind: choice.kind,
          factory: choice.factory,
          params: options.params,
          ...(calibration ? { calibration } : {}),
          index,
          ids: collected.ids,
          vectors: collected.vectors,
        });
        snapshotDir = written.dir;
        if (options.onDisk) {
          const sorted = await readIds(written);
          store = await VectorFileStore.open(written.vectorsPath, sorted.length, d);
          ids = sorted;
        }
      } catch (error) {
        options.onSnapshotError(error);
      }
    }
    store ??= new MemoryRowStore(collected.vectors, d);
    const tier = new MainTier({
      ...choice,
      index,
      ids,
      store,
      watermark: options.watermark,
      params: options.params,
      ...(calibration ? { calibration } : {}),
    });
    return { tier, snapshotDir, calibration };
  } catch (error) {
    index.close();
    await store?.close();
    throw error;
  }
}
