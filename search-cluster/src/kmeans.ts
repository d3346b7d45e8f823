import { seededRandom } from './faiss/synthetic.ts';
import type { VectorIndexFactory } from './shard/vector-index.ts';

/**
 * Spherical k-means over unit vectors (inner product, the shards' metric), the one k-means of the
 * search cluster: the router's partition map (clusters placed on shards) and a shard's filter
 * cells both train with it. Each centroid is its members' mean scaled to unit length; each vector
 * belongs to the centroid of highest inner product, found by an exact FAISS index over the
 * centroids (native and SIMD: a JS scan of samples x centroids x dimension was most of a map's
 * build time). Seeded, so the same sample gives the same centroids on every machine.
 */
export interface KMeansOptions {
  /** Builds the exact index the assignment step searches. */
  factory: VectorIndexFactory;
  /** Lloyd iterations at most (fewer when no assignment changes). Default 10. */
  iterations?: number;
  /** Seed of the initial centroids (distinct sample rows). Default 1. */
  seed?: number;
  signal?: AbortSignal;
}

export interface KMeansResult {
  /** `clusters` unit centroids, concatenated. */
  centroids: Float32Array;
  /** The cluster of each sample row. */
  assignment: Int32Array;
}

/** Rows assigned per native call: bounds the copies of a large read. */
const CHUNK_ROWS = 16_384;

export async function sphericalKMeans(
  sample: Float32Array,
  dimension: number,
  clusters: number,
  options: KMeansOptions,
): Promise<KMeansResult> {
  const n = sample.length / dimension;
  if (!Number.isInteger(n) || n < clusters || clusters < 1) {
    throw new Error(`k-means needs at least ${clusters} vectors of dimension ${dimension}, got ${n}`);
  }
  const centroids = initialCentroids(sample, dimension, clusters, options.seed ?? 1);
  let assigned = await assignNearest(options.factory, centroids, dimension, n, async (start, end) =>
    sample.subarray(start * dimension, end * dimension),
  );
  for (let iteration = 0; iteration < (options.iterations ?? 10); iteration++) {
    options.signal?.throwIfAborted();
    updateCentroids(sample, dimension, assigned, centroids);
    const next = await assignNearest(options.factory, centroids, dimension, n, async (start, end) =>
      sample.subarray(start * dimension, end * dimension),
    );
    const changed = next.cluster.some((c, i) => c !== assigned.cluster[i]);
    assigned = next;
    if (!changed) break;
  }
  return { centroids, assignment: assigned.cluster };
}

/**
 * The nearest centroid (and its inner product) of each of `rows` rows, read in chunks through
 * `read(start, end)` (rows start..end, concatenated): a sample in memory or a row store on disk.
 */
export async function assignNearest(
  factory: VectorIndexFactory,
  centroids: Float32Array,
  dimension: number,
  rows: number,
  read: (start: number, end: number) => Promise<Float32Array>,
): Promise<{ cluster: Int32Array; score: Float32Array }> {
  const index = factory.create(dimension, 'Flat');
  try {
    const count = centroids.length / dimension;
    await index.add(
      centroids,
      BigInt64Array.from({ length: count }, (_, c) => BigInt(c)),
    );
    const cluster = new Int32Array(rows);
    const score = new Float32Array(rows);
    for (let start = 0; start < rows; start += CHUNK_ROWS) {
      const end = Math.min(rows, start + CHUNK_ROWS);
      const found = await index.search(await read(start, end), 1);
      for (let i = start; i < end; i++) {
        cluster[i] = Number(found.ids[i - start]!);
        score[i] = found.distances[i - start]!;
      }
    }
    return { cluster, score };
  } finally {
    index.close();
  }
}

/** `clusters` distinct sample rows, picked by a seeded shuffle. */
function initialCentroids(
  sample: Float32Array,
  dimension: number,
  clusters: number,
  seed: number,
): Float32Array {
  const n = sample.length / dimension;
  const random = seededRandom(seed);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const centroids = new Float32Array(clusters * dimension);
  for (let c = 0; c < clusters; c++) {
    const pick = c + Math.floor(random() * (n - c));
    [order[c], order[pick]] = [order[pick]!, order[c]!];
    centroids.set(sample.subarray(order[c]! * dimension, (order[c]! + 1) * dimension), c * dimension);
  }
  return centroids;
}

/**
 * Each centroid becomes its members' normalised mean, in place. An empty cluster takes the sample
 * row placed worst (lowest score to its centroid) that no other empty cluster took, so every
 * cluster keeps members.
 */
function updateCentroids(
  sample: Float32Array,
  dimension: number,
  assigned: { cluster: Int32Array; score: Float32Array },
  centroids: Float32Array,
): void {
  const clusters = centroids.length / dimension;
  const sums = new Float64Array(centroids.length);
  const sizes = new Int32Array(clusters);
  const { cluster } = assigned;
  for (let i = 0; i < cluster.length; i++) {
    const c = cluster[i]!;
    sizes[c]!++;
    for (let j = 0; j < dimension; j++) sums[c * dimension + j]! += sample[i * dimension + j]!;
  }
  const worstFirst = sizes.includes(0)
    ? Int32Array.from({ length: cluster.length }, (_, i) => i).sort(
        (a, b) => assigned.score[a]! - assigned.score[b]!,
      )
    : new Int32Array(0);
  let nextWorst = 0;
  for (let c = 0; c < clusters; c++) {
    const row = centroids.subarray(c * dimension, (c + 1) * dimension);
    if (sizes[c] === 0) {
      const worst = worstFirst[nextWorst++]!;
      row.set(sample.subarray(worst * dimension, (worst + 1) * dimension));
      continue;
    }
    let norm = 0;
    for (let j = 0; j < dimension; j++) norm += sums[c * dimension + j]! ** 2;
    // members that cancel out (a zero mean) leave the centroid where it was
    if (!(norm > 0)) continue;
    for (let j = 0; j < dimension; j++) row[j] = sums[c * dimension + j]! / Math.sqrt(norm);
  }
}
