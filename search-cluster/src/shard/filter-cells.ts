import { type ByteSink, mappedSink, memorySink } from '../faiss/mapped-bytes.ts';
import type { CellScan } from '../faiss/score-rows.ts';
import { assignNearest, sphericalKMeans } from '../kmeans.ts';
import type { LogSink } from '../runtime/logger.ts';
import { RowCodeBook } from './row-codes.ts';
import type { RowStore } from './row-store.ts';
import type { VectorIndexFactory } from './vector-index.ts';

/** Most cells a partition gets: the per-query cost of ordering them is cells x dimension. */
const MAX_CELLS = 4096;
/** k-means runs on a sample of this many rows per cell (FAISS warns below 39), then assigns all. */
const SAMPLE_PER_CELL = 64;
const KMEANS_ITERATIONS = 10;
/** Rows a query's scan re-scores exactly after ranking by codes: this many per result, at least SHORT_LIST_MIN. */
const SHORT_LIST_PER_RESULT = 10;
const SHORT_LIST_MIN = 100;

/**
 * A coarse partition of a main tier's rows (about 4 sqrt(n) cells, as an IVF's lists; spherical
 * k-means on a sample) for filtered search, whatever the tier's ANN structure. A filter whose allowed ids
 * are too many to score them all is answered from the allowed rows of the cells nearest the query,
 * in centroid order, until enough were visited: an IVF over the allowed set alone, run natively
 * (score-rows.ts#scoreCells). The visited rows are ranked by their 8-bit codes (row-codes.ts, a
 * byte per dimension, kept here) and only a short list per query is scored exactly from the full
 * rows: the scan is bound by the bytes it reads. The codes live where the rows do: in memory beside
 * rows in memory, memory-mapped beside a memory-mapped vector file (RowStore#derivedDir), so a
 * compressed tier's resident bytes per vector stay its index's. It stays correct where an ANN search with an id selector does not: when the allowed ids
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
    readonly codeBook: RowCodeBook,
    /** The 8-bit codes of every row of the tier, a byte per dimension. */
    readonly codes: Uint8Array,
    /** Whether `codes` is memory-mapped (not counted in memoryBytes). */
    readonly codesMapped: boolean,
    /** Why codes meant to be mapped are in memory (the directory refused the file), else null. */
    readonly codesInMemoryBecause: string | null,
  ) {}

  get count(): number {
    return this.centroids.length / this.dimension;
  }

  get memoryBytes(): number {
    return (
      this.centroids.byteLength + this.cellOfRow.byteLength + (this.codesMapped ? 0 : this.codes.byteLength)
    );
  }

  /** Partitions the `rows` rows of `store` (deterministic: the same rows, the same cells). */
  static async build(
    store: RowStore,
    rows: number,
    dimension: number,
    factory: VectorIndexFactory,
    signal?: AbortSignal,
  ): Promise<FilterCells> {
    // an empty tier has nothing to partition (k-means would report needing 0 vectors)
    if (!Number.isInteger(rows) || rows < 1)
      throw new RangeError(`Filter cells need at least one row, got ${rows}`);
    const cells = Math.max(1, Math.min(MAX_CELLS, Math.round(4 * Math.sqrt(rows))));
    const sample = await store.read(spread(rows, Math.min(rows, cells * SAMPLE_PER_CELL)));
    const { centroids } = await sphericalKMeans(
      sample,
      dimension,
      Math.min(cells, sample.length / dimension),
      {
        factory,
        iterations: KMEANS_ITERATIONS,
        signal,
      },
    );
    const codeBook = RowCodeBook.fromSample(sample, dimension);
    const { sink, refused } = await codeSink(store, rows * dimension);
    try {
      const { cluster: cellOfRow } = await assignNearest(
        factory,
        centroids,
        dimension,
        rows,
        async (start, end) => {
          signal?.throwIfAborted();
          const vectors = await store.read(Int32Array.from({ length: end - start }, (_, i) => start + i));
          const chunk = new Uint8Array(vectors.length);
          codeBook.encode(vectors, chunk, 0);
          await sink.write(chunk, start * dimension);
          return vectors;
        },
      );
      const codes = await sink.finish();
      return new FilterCells(dimension, centroids, cellOfRow, codeBook, codes, sink.mapped, refused);
    } catch (error) {
      await sink.abort();
      throw error;
    }
  }

  /** The scan of `rows` (allowed, live, unique rows of the tier) over these cells, for the best `k`. */
  scan(rows: Int32Array, budget: number, minCells: number, k: number): CellScan {
    const shortList = Math.max(SHORT_LIST_MIN, SHORT_LIST_PER_RESULT * k);
    return {
      rows,
      cellOfRow: this.cellOfRow,
      centroids: this.centroids,
      budget,
      minCells,
      codes: this.codeBook.codes(this.codes, shortList),
    };
  }
}

/** Says, once a tier's cells are built, that its codes stayed in memory against the plan, and why. */
export function warnCodesInMemory(cells: FilterCells, log: LogSink, fields: Record<string, unknown>): void {
  if (cells.codesInMemoryBecause)
    log.warn('filter codes kept in memory: cannot write beside the vector file', {
      ...fields,
      reason: cells.codesInMemoryBecause,
    });
}

/**
 * Where the codes go: a mapped file in the store's derivedDir, or memory when it has none or the
 * directory refuses a file (a read-only snapshot volume; the tier still serves, at more RAM).
 */
async function codeSink(
  store: RowStore,
  length: number,
): Promise<{ sink: ByteSink; refused: string | null }> {
  if (store.derivedDir === undefined) return { sink: memorySink(length), refused: null };
  try {
    return { sink: await mappedSink(store.derivedDir, 'filter-codes', length), refused: null };
  } catch (error) {
    return { sink: memorySink(length), refused: `${store.derivedDir}: ${(error as Error).message}` };
  }
}

/** `count` distinct row numbers below `rows`, spread evenly. */
function spread(rows: number, count: number): Int32Array {
  return Int32Array.from({ length: count }, (_, i) => Math.floor(((i + 0.5) * rows) / count));
}
