import { createHash } from 'node:crypto';
import { innerProducts, MAX_INNER_PRODUCT_FLOATS } from '../faiss/inner-products.ts';
import { sphericalKMeans } from '../kmeans.ts';
import type { VectorIndexFactory } from '../shard/vector-index.ts';
import { dotAt } from '../vector-math.ts';

/**
 * A cluster partition map (issue 14, item 5): k-means centroids over a sample of one model
 * version's vectors, each centroid owned by one shard. A vector lives on the shard owning its
 * nearest centroid, so a query's neighbours sit mostly on the shards owning the centroids nearest
 * to it, and the router searches those shards instead of all of them.
 *
 * The map is fixed for the life of the data it placed: every shard filters its rebuilds, refills
 * and catch-ups by it, and snapshots record its `version`, so a snapshot placed by another map is
 * not loaded. Building a new map means re-placing every vector (a restart without the persisted
 * map, see cluster-placement.ts).
 */
export interface PartitionMap {
  /** Content hash: changes whenever a vector could land elsewhere. */
  version: string;
  modelVersion: string;
  dimension: number;
  shardCount: number;
  /** `clusters` unit centroids, concatenated. */
  centroids: Float32Array;
  /** The shard that owns each cluster. */
  shardOfCluster: Uint16Array;
  /**
   * How far above a shard's best centroid score a vector of that shard can score for a query, as
   * measured on the sample (`calibrateSlack`): the router's bound on what a shard can still add
   * (probe-plan.ts).
   */
  slack: number;
  /** Sample rows each shard was given, for the balance report. */
  sampleRowsPerShard: number[];
}

export interface PartitionMapOptions {
  /** k-means clusters, several per shard so that shards can be balanced. Default 16 per shard, at least 16, at most 64. */
  clusters?: number;
  /** Seed of k-means++. Default 1. */
  seed?: number;
  /** Lloyd iterations at most. Default 20. */
  iterations?: number;
  /** Sample rows used as queries to calibrate `slack`. Default 2000. */
  calibrationQueries?: number;
  /** Neighbours per calibration query. Default 10. */
  calibrationK?: number;
}

export const clustersFor = (shardCount: number) => Math.min(64, Math.max(16, shardCount * 16));

/** Builds the map from a sample of unit vectors (rows of `sample`); `factory` runs k-means' assignments. */
export async function buildPartitionMap(
  modelVersion: string,
  sample: Float32Array,
  dimension: number,
  shardCount: number,
  factory: VectorIndexFactory,
  options: PartitionMapOptions = {},
): Promise<PartitionMap> {
  const n = sample.length / dimension;
  const clusters = Math.min(options.clusters ?? clustersFor(shardCount), Math.floor(n / 4));
  if (clusters < shardCount) {
    throw new Error(
      `A partition map over ${shardCount} shards needs a sample of at least ${shardCount * 4} vectors, got ${n}`,
    );
  }
  checkSearchable(clusters, dimension);
  const { centroids, assignment } = await sphericalKMeans(sample, dimension, clusters, {
    factory,
    seed: options.seed ?? 1,
    iterations: options.iterations ?? 20,
  });
  const sizes = new Array<number>(clusters).fill(0);
  for (let i = 0; i < n; i++) sizes[assignment[i]!]!++;
  const shardOfCluster = assignClusters(centroids, dimension, sizes, shardCount);
  const sampleRowsPerShard = new Array<number>(shardCount).fill(0);
  for (let c = 0; c < clusters; c++) sampleRowsPerShard[shardOfCluster[c]!]! += sizes[c]!;
  const shardOfRow = Uint16Array.from(assignment, (c) => shardOfCluster[c]!);
  const unslacked = { centroids, shardOfCluster, dimension, shardCount };
  const slack = await calibrateSlack(unslacked, sample, shardOfRow, factory, {
    queries: options.calibrationQueries ?? 2000,
    k: options.calibrationK ?? 10,
  });
  return {
    version: mapVersion(shardCount, dimension, centroids, shardOfCluster),
    modelVersion,
    dimension,
    shardCount,
    centroids,
    shardOfCluster,
    slack,
    sampleRowsPerShard,
  };
}

/** Every search scores every centroid synchronously: a map past that call's bound is refused. */
function checkSearchable(clusters: number, dimension: number): void {
  if (clusters * dimension > MAX_INNER_PRODUCT_FLOATS) {
    throw new Error(
      `A partition map of ${clusters} clusters x ${dimension} dimensions is over the ${MAX_INNER_PRODUCT_FLOATS} floats a search scores; use fewer clusters`,
    );
  }
}

/**
 * Best centroid score per shard for the query at `offset` (higher is nearer). Every search scores
 * every centroid, natively (`innerProducts`: some 3 us for 64 x 512 floats, a tenth of the same
 * loop in V8); placement (`shardOfVector`) keeps `dotAt`, whose summation order placed the stored
 * vectors, so a query's plan may order two shards of equal centroid scores differently.
 */
export function shardScores(
  map: Pick<PartitionMap, 'centroids' | 'shardOfCluster' | 'dimension' | 'shardCount'>,
  queries: Float32Array,
  offset: number,
): Float64Array {
  const byCluster = innerProducts(map.centroids, map.dimension, queries, offset);
  const scores = new Float64Array(map.shardCount).fill(Number.NEGATIVE_INFINITY);
  for (let c = 0; c < byCluster.length; c++) {
    const s = map.shardOfCluster[c]!;
    if (byCluster[c]! > scores[s]!) scores[s] = byCluster[c]!;
  }
  return scores;
}

/**
 * The slack of the probe rule: spread sample rows act as queries against the rest of the sample
 * (their exact neighbours from a FAISS Flat index); for every true neighbour outside the query's
 * nearest shard, how far the k-th score was above that shard's best centroid score. The largest
 * such gap is the slack: with it, the rule "search a shard while its best centroid score plus
 * slack reaches the k-th score so far" would have found every calibration neighbour.
 *
 * Neighbours past a shard's border are rare, so too few queries see none and leave a slack of 0:
 * at 50k x 512 (bench:router, two-level data) 200 queries gave 0 and an exact recall@10 of 0.998,
 * 1,000 gave 0.073 and 1.000.
 */
async function calibrateSlack(
  map: Pick<PartitionMap, 'centroids' | 'shardOfCluster' | 'dimension' | 'shardCount'>,
  sample: Float32Array,
  shardOfRow: Uint16Array,
  factory: VectorIndexFactory,
  options: { queries: number; k: number },
): Promise<number> {
  const d = map.dimension;
  const n = shardOfRow.length;
  const k = Math.min(options.k, n - 1);
  const step = Math.max(1, Math.floor(n / options.queries));
  const rows: number[] = [];
  for (let q = 0; q < n; q += step) rows.push(q);
  const queries = new Float32Array(rows.length * d);
  for (const [i, row] of rows.entries()) queries.set(sample.subarray(row * d, row * d + d), i * d);
  const index = factory.create(d, 'Flat');
  let found: { ids: BigInt64Array; distances: Float32Array };
  try {
    await index.add(
      sample,
      BigInt64Array.from({ length: n }, (_, i) => BigInt(i)),
    );
    // k + 1: the query row finds itself (or an identical row) among its neighbours
    found = await index.search(queries, k + 1);
  } finally {
    index.close();
  }
  let slack = 0;
  rows.forEach((row, i) => {
    const neighbours: number[] = [];
    let kth = Number.NEGATIVE_INFINITY;
    for (let j = i * (k + 1); j < (i + 1) * (k + 1) && neighbours.length < k; j++) {
      const id = Number(found.ids[j]!);
      if (id < 0 || id === row) continue;
      neighbours.push(id);
      kth = found.distances[j]!;
    }
    const byShard = shardScores(map, queries, i * d);
    let first = 0;
    for (let s = 1; s < map.shardCount; s++) if (byShard[s]! > byShard[first]!) first = s;
    for (const id of neighbours) {
      const s = shardOfRow[id]!;
      if (s !== first) slack = Math.max(slack, kth - byShard[s]!);
    }
  });
  return slack;
}

/** The shard that owns the vector at `offset` of `vectors` (default: the whole array is one vector). */
export function shardOfVector(map: PartitionMap, vectors: Float32Array, offset = 0): number {
  let best = 0;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < map.shardOfCluster.length; c++) {
    const score = dotAt(map.centroids, c * map.dimension, vectors, offset, map.dimension);
    if (score > bestScore) [best, bestScore] = [c, score];
  }
  return map.shardOfCluster[best]!;
}

/**
 * Clusters to shards, balanced by sample size and keeping neighbouring clusters together:
 * shards start from mutually distant clusters (farthest first); then, again and again, the
 * smallest shard takes the unassigned cluster most like one it holds. The smallest shard always
 * grows next, so sizes differ by about one cluster at most; a last pass moves single clusters from
 * the largest shard to the smallest while that narrows the spread.
 */
export function assignClusters(
  centroids: Float32Array,
  dimension: number,
  sizes: readonly number[],
  shardCount: number,
): Uint16Array {
  const clusters = sizes.length;
  const owner = new Int32Array(clusters).fill(-1);
  const totals = new Array<number>(shardCount).fill(0);
  const similarity = (a: number, b: number) =>
    dotAt(centroids, a * dimension, centroids, b * dimension, dimension);
  // affinity[c][s]: the best similarity of cluster c to a cluster of shard s
  const affinity = Array.from({ length: clusters }, () => new Float64Array(shardCount).fill(-2));
  const give = (c: number, s: number) => {
    owner[c] = s;
    totals[s]! += sizes[c]!;
    for (let other = 0; other < clusters; other++) {
      affinity[other]![s] = Math.max(affinity[other]![s]!, similarity(other, c));
    }
  };
  // seeds: the largest cluster, then each time the cluster least like any seed so far
  let first = 0;
  for (let c = 1; c < clusters; c++) if (sizes[c]! > sizes[first]!) first = c;
  give(first, 0);
  for (let s = 1; s < shardCount; s++) {
    let pick = -1;
    let pickScore = Number.POSITIVE_INFINITY;
    for (let c = 0; c < clusters; c++) {
      if (owner[c] !== -1) continue;
      const closest = Math.max(...affinity[c]!.subarray(0, s));
      if (closest < pickScore) {
        pickScore = closest;
        pick = c;
      }
    }
    give(pick, s);
  }
  for (let left = clusters - shardCount; left > 0; left--) {
    let s = 0;
    for (let t = 1; t < shardCount; t++) if (totals[t]! < totals[s]!) s = t;
    let pick = -1;
    for (let c = 0; c < clusters; c++) {
      if (owner[c] !== -1) continue;
      if (pick === -1 || affinity[c]![s]! > affinity[pick]![s]!) pick = c;
    }
    give(pick, s);
  }
  // one cluster at a time from the largest shard to the smallest, while the spread narrows
  for (let round = 0; round < clusters; round++) {
    let big = 0;
    let small = 0;
    for (let t = 1; t < shardCount; t++) {
      if (totals[t]! > totals[big]!) big = t;
      if (totals[t]! < totals[small]!) small = t;
    }
    const gap = totals[big]! - totals[small]!;
    let move = -1;
    for (let c = 0; c < clusters; c++) {
      // moving c helps when it is smaller than the gap; the one nearest half the gap helps most
      if (owner[c] !== big || sizes[c]! === 0 || sizes[c]! >= gap) continue;
      if (move === -1 || Math.abs(sizes[c]! - gap / 2) < Math.abs(sizes[move]! - gap / 2)) move = c;
    }
    if (move === -1) break;
    owner[move] = small;
    totals[big]! -= sizes[move]!;
    totals[small]! += sizes[move]!;
  }
  return Uint16Array.from(owner);
}

/** Largest deviation of a shard's size from the mean, as a fraction (0.2 = 20%). */
export function imbalance(sizes: readonly number[]): number {
  const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length;
  return mean === 0 ? 0 : Math.max(...sizes.map((s) => Math.abs(s / mean - 1)));
}

function mapVersion(
  shardCount: number,
  dimension: number,
  centroids: Float32Array,
  owners: Uint16Array,
): string {
  const hash = createHash('sha256');
  hash.update(`${shardCount}:${dimension}:`);
  hash.update(new Uint8Array(centroids.buffer, centroids.byteOffset, centroids.byteLength));
  hash.update(new Uint8Array(owners.buffer, owners.byteOffset, owners.byteLength));
  return hash.digest('hex').slice(0, 16);
}

// ---------------------------------------------------------------- persisted form

/** The map as JSON (centroids as base64 of their float32 bytes). */
export function serializePartitionMap(map: PartitionMap): string {
  const base64 = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
  return JSON.stringify({
    format: 1,
    version: map.version,
    modelVersion: map.modelVersion,
    dimension: map.dimension,
    shardCount: map.shardCount,
    centroids: base64(map.centroids),
    shardOfCluster: [...map.shardOfCluster],
    slack: map.slack,
    sampleRowsPerShard: map.sampleRowsPerShard,
  });
}

/** Parses a persisted map; throws when it is malformed or its content does not match its version. */
export function parsePartitionMap(text: string): PartitionMap {
  const raw = JSON.parse(text) as Record<string, unknown>;
  const floats = (value: unknown) => {
    const bytes = Buffer.from(String(value), 'base64');
    const out = new Float32Array(bytes.byteLength / 4);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  };
  if (raw.format !== 1) throw new Error(`partition map format ${String(raw.format)} is not 1`);
  const dimension = Number(raw.dimension);
  const shardCount = Number(raw.shardCount);
  const centroids = floats(raw.centroids);
  const shardOfCluster = Uint16Array.from(raw.shardOfCluster as number[]);
  const slack = Number(raw.slack);
  const clusters = shardOfCluster.length;
  if (!Number.isFinite(slack) || slack < 0)
    throw new Error(`partition map slack ${String(raw.slack)} is invalid`);
  if (centroids.length !== clusters * dimension) {
    throw new Error('partition map arrays do not match its cluster count and dimension');
  }
  if (shardOfCluster.some((s) => s >= shardCount))
    throw new Error('partition map names a shard it does not have');
  checkSearchable(clusters, dimension);
  const version = mapVersion(shardCount, dimension, centroids, shardOfCluster);
  if (version !== raw.version)
    throw new Error(`partition map content does not match version ${String(raw.version)}`);
  return {
    version,
    modelVersion: String(raw.modelVersion),
    dimension,
    shardCount,
    centroids,
    shardOfCluster,
    slack,
    sampleRowsPerShard: (raw.sampleRowsPerShard as number[]) ?? [],
  };
}
