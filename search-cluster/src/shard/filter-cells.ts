import { dotAt, normalizeRows } from '../vector-math.ts';
import type { RowStore } from './row-store.ts';
import type { VectorIndex, VectorIndexFactory } from './vector-index.ts';

/** Rows read from the row store, and assigned to cells, per native call (bounded copies). */
const CHUNK_ROWS = 16_384;
/** Most cells a partition gets: the per-query cost of ordering them is cells x dimension. */
const MAX_CELLS = 4096;
/** k-means runs on a sample of this many rows per cell (FAISS warns below 39), then assigns all. */
const SAMPLE_PER_CELL = 64;
const KMEANS_ITERATIONS = 10;

/**
 * A coarse partition of a main tier's rows (about 4 sqrt(n) cells, as an IVF's lists; spherical
 * k-means on a sample) for filtered search, whatever the tier's ANN structure. A filter whose allowed ids
 * are too many to score them all is answered by scoring exactly the allowed rows of the cells
 * nearest the query, in centroid order, until enough were scored: an IVF over the allowed set
 * alone. It stays correct where an ANN search with an id selector does not: when the allowed ids
 * sit together in one region and the query outside it, HNSW wanders among disallowed nodes and
 * IVF probes lists holding none.
 */
export class FilterCells {
  private constructor(
    readonly dimension: number,
    /** Unit centroid vectors, one row per cell. */
    readonly centroids: Float32Array,
    /** Cell of each row of the tier. */
    readonly cellOfRow: Int32Array,
  ) {}

  get count(): number {
    return this.centroids.length / this.dimension;
  }

  get memoryBytes(): number {
    return this.centroids.byteLength + this.cellOfRow.byteLength;
  }

  /** Partitions the `rows` rows of `store` (deterministic: the same rows, the same cells). */
  static async build(
    store: RowStore,
    rows: number,
    dimension: number,
    factory: VectorIndexFactory,
    signal?: AbortSignal,
  ): Promise<FilterCells> {
    const cells = Math.max(1, Math.min(MAX_CELLS, Math.round(4 * Math.sqrt(rows))));
    const sample = await store.read(spread(rows, Math.min(rows, cells * SAMPLE_PER_CELL)));
    const sampled = sample.length / dimension;
    let centroids = normalizeRows(pickRows(sample, dimension, spread(sampled, cells)), dimension);
    for (let i = 0; i < KMEANS_ITERATIONS; i++) {
      signal?.throwIfAborted();
      const assigned = await assign(factory, centroids, dimension, sampled, async (start, end) =>
        sample.subarray(start * dimension, end * dimension),
      );
      centroids = means(sample, dimension, assigned, centroids);
    }
    const cellOfRow = await assign(factory, centroids, dimension, rows, (start, end) => {
      signal?.throwIfAborted();
      return store.read(Int32Array.from({ length: end - start }, (_, i) => start + i));
    });
    return new FilterCells(dimension, centroids, cellOfRow);
  }

  /** Counting sort of `rows` by cell, once per search call (every query of it shares it). */
  group(rows: Int32Array): GroupedRows {
    const n = this.count;
    const cellOf = this.cellOfRow;
    const starts = new Int32Array(n + 1);
    for (let i = 0; i < rows.length; i++) starts[cellOf[rows[i]!]! + 1]!++;
    for (let c = 0; c < n; c++) starts[c + 1]! += starts[c]!;
    const next = starts.slice(0, n);
    const grouped = new Int32Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      grouped[next[cellOf[row]!]!++] = row;
    }
    let occupied = 0;
    for (let c = 0; c < n; c++) if (starts[c + 1]! > starts[c]!) occupied++;
    const cells = new Int32Array(occupied);
    for (let c = 0, at = 0; c < n; c++) if (starts[c + 1]! > starts[c]!) cells[at++] = c;
    return { rows: grouped, starts, occupied: cells };
  }

  /**
   * The grouped rows of the cells nearest the query (by centroid score), cell after cell, until at
   * least `budget` rows were taken and at least `minCells` cells visited.
   */
  nearest(
    query: Float32Array,
    queryOffset: number,
    grouped: GroupedRows,
    budget: number,
    minCells: number,
  ): Int32Array {
    const { occupied, starts } = grouped;
    const d = this.dimension;
    const centroids = this.centroids;
    const scores = new Float64Array(occupied.length);
    const order: number[] = new Array(occupied.length);
    for (let i = 0; i < occupied.length; i++) {
      scores[i] = dotAt(query, queryOffset, centroids, occupied[i]! * d, d);
      order[i] = i;
    }
    order.sort((a, b) => scores[b]! - scores[a]!);
    let taken = 0;
    let visited = 0;
    while (visited < order.length && (taken < budget || visited < minCells)) {
      const c = occupied[order[visited++]!]!;
      taken += starts[c + 1]! - starts[c]!;
    }
    const out = new Int32Array(taken);
    const from = grouped.rows;
    let at = 0;
    for (let i = 0; i < visited; i++) {
      const c = occupied[order[i]!]!;
      for (let j = starts[c]!; j < starts[c + 1]!; j++) out[at++] = from[j]!;
    }
    return out;
  }
}

/** Rows grouped by cell: cell c holds rows[starts[c]..starts[c+1]]; `occupied` lists cells holding any. */
export interface GroupedRows {
  rows: Int32Array;
  starts: Int32Array;
  occupied: Int32Array;
}

/** `count` distinct row numbers below `rows`, spread evenly. */
function spread(rows: number, count: number): Int32Array {
  return Int32Array.from({ length: count }, (_, i) => Math.floor(((i + 0.5) * rows) / count));
}

function pickRows(vectors: Float32Array, dimension: number, rows: Int32Array): Float32Array {
  const out = new Float32Array(rows.length * dimension);
  rows.forEach((row, i) => {
    out.set(vectors.subarray(row * dimension, (row + 1) * dimension), i * dimension);
  });
  return out;
}

/** Nearest centroid of each of `rows` rows (read in chunks), by an exact FAISS index over the centroids. */
async function assign(
  factory: VectorIndexFactory,
  centroids: Float32Array,
  dimension: number,
  rows: number,
  read: (start: number, end: number) => Promise<Float32Array>,
): Promise<Int32Array> {
  const index: VectorIndex = factory.create(dimension, 'Flat');
  try {
    const cells = centroids.length / dimension;
    await index.add(
      centroids,
      BigInt64Array.from({ length: cells }, (_, c) => BigInt(c)),
    );
    const cellOfRow = new Int32Array(rows);
    for (let start = 0; start < rows; start += CHUNK_ROWS) {
      const end = Math.min(rows, start + CHUNK_ROWS);
      const { ids } = await index.search(await read(start, end), 1);
      for (let i = start; i < end; i++) cellOfRow[i] = Number(ids[i - start]!);
    }
    return cellOfRow;
  } finally {
    index.close();
  }
}

/** The normalised mean of each cell's vectors; an empty cell keeps its centroid. */
function means(
  vectors: Float32Array,
  dimension: number,
  cellOf: Int32Array,
  previous: Float32Array,
): Float32Array {
  const sums = new Float64Array(previous.length);
  for (let i = 0; i < cellOf.length; i++) {
    const c = cellOf[i]!;
    for (let j = 0; j < dimension; j++) sums[c * dimension + j]! += vectors[i * dimension + j]!;
  }
  const out = new Float32Array(previous.length);
  for (let c = 0; c < out.length / dimension; c++) {
    let norm = 0;
    for (let j = 0; j < dimension; j++) norm += sums[c * dimension + j]! ** 2;
    for (let j = 0; j < dimension; j++) {
      out[c * dimension + j] =
        norm > 0 ? sums[c * dimension + j]! / Math.sqrt(norm) : previous[c * dimension + j]!;
    }
  }
  return out;
}
