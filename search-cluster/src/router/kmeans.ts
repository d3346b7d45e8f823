import { seededRandom } from '../faiss/synthetic.ts';
import { dotAt, normalizeRows } from '../vector-math.ts';

/**
 * Spherical k-means over unit vectors (inner product, the shards' metric): each centroid is its
 * members' mean scaled to unit length, each vector belongs to the centroid of highest inner
 * product. Pure and seeded, so the same sample gives the same centroids on every machine.
 *
 * Seeding is k-means++ on 1 - inner product, then Lloyd iterations until no assignment changes or
 * `iterations` run out. An empty cluster is re-seeded with the vector farthest from its centroid.
 */
export interface KMeansResult {
  /** `clusters` unit centroids, concatenated. */
  centroids: Float32Array;
  /** The cluster of each sample row. */
  assignment: Uint32Array;
}

export function sphericalKMeans(
  sample: Float32Array,
  dimension: number,
  clusters: number,
  options: { seed?: number; iterations?: number } = {},
): KMeansResult {
  const n = sample.length / dimension;
  if (!Number.isInteger(n) || n < clusters || clusters < 1) {
    throw new Error(`k-means needs at least ${clusters} vectors of dimension ${dimension}, got ${n}`);
  }
  const random = seededRandom(options.seed ?? 1);
  const centroids = seedPlusPlus(sample, dimension, clusters, random);
  const assignment = new Uint32Array(n).fill(clusters);
  const best = new Float64Array(n);
  for (let iteration = 0; iteration < (options.iterations ?? 20); iteration++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const [c, score] = nearest(centroids, clusters, sample, i * dimension, dimension);
      best[i] = score;
      if (assignment[i] !== c) {
        assignment[i] = c;
        changed++;
      }
    }
    if (changed === 0) break;
    const sums = new Float64Array(clusters * dimension);
    const sizes = new Uint32Array(clusters);
    for (let i = 0; i < n; i++) {
      const c = assignment[i]!;
      sizes[c]!++;
      for (let j = 0; j < dimension; j++) sums[c * dimension + j]! += sample[i * dimension + j]!;
    }
    for (let c = 0; c < clusters; c++) {
      if (sizes[c] === 0) {
        // re-seed with the worst-placed vector, taken from its cluster
        let worst = 0;
        for (let i = 1; i < n; i++) if (best[i]! < best[worst]!) worst = i;
        best[worst] = Number.POSITIVE_INFINITY;
        centroids.set(sample.subarray(worst * dimension, worst * dimension + dimension), c * dimension);
        continue;
      }
      for (let j = 0; j < dimension; j++) centroids[c * dimension + j] = sums[c * dimension + j]!;
    }
    unitRows(centroids, dimension);
  }
  for (let i = 0; i < n; i++)
    assignment[i] = nearest(centroids, clusters, sample, i * dimension, dimension)[0];
  return { centroids, assignment };
}

/** The centroid of highest inner product with the vector at `offset`, and that inner product. */
export function nearest(
  centroids: Float32Array,
  clusters: number,
  vectors: Float32Array,
  offset: number,
  dimension: number,
): [number, number] {
  let best = 0;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < clusters; c++) {
    const score = dotAt(centroids, c * dimension, vectors, offset, dimension);
    if (score > bestScore) {
      bestScore = score;
      best = c;
    }
  }
  return [best, bestScore];
}

function seedPlusPlus(
  sample: Float32Array,
  dimension: number,
  clusters: number,
  random: () => number,
): Float32Array {
  const n = sample.length / dimension;
  const centroids = new Float32Array(clusters * dimension);
  const first = Math.floor(random() * n);
  centroids.set(sample.subarray(first * dimension, first * dimension + dimension), 0);
  // distance of each row to its nearest chosen centroid: 1 - inner product, never negative
  const distance = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  for (let c = 1; c < clusters; c++) {
    let total = 0;
    for (let i = 0; i < n; i++) {
      const d = Math.max(0, 1 - dotAt(centroids, (c - 1) * dimension, sample, i * dimension, dimension));
      if (d < distance[i]!) distance[i] = d;
      total += distance[i]! * distance[i]!;
    }
    let pick = n - 1;
    let target = random() * total;
    for (let i = 0; i < n; i++) {
      target -= distance[i]! * distance[i]!;
      if (target <= 0) {
        pick = i;
        break;
      }
    }
    centroids.set(sample.subarray(pick * dimension, pick * dimension + dimension), c * dimension);
  }
  return centroids;
}

/** normalizeRows, leaving a zero row (a centroid of opposite members) as it is. */
function unitRows(rows: Float32Array, dimension: number): void {
  for (let start = 0; start < rows.length; start += dimension) {
    const norm = Math.sqrt(dotAt(rows, start, rows, start, dimension));
    if (norm > 0 && Number.isFinite(norm)) normalizeRows(rows.subarray(start, start + dimension), dimension);
  }
}
