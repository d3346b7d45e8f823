import { type FileHandle, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SearchResult } from '../faiss/faiss-index.ts';
import { type CellScan, scoreCells, scoreRows } from '../faiss/score-rows.ts';
import { VectorFile } from '../faiss/vector-file.ts';
import { type Hit, hitsPerQuery } from './topk.ts';
import type { VectorIndex, VectorSearchOptions } from './vector-index.ts';

/**
 * Exact candidate scoring for an immutable tier: the main tier re-scores its compressed short list
 * and scans small filtered subsets here. Candidates are given per query, `perQuery` each, as ids
 * (for the memory-mapped file, which looks rows up itself) and as rows of the tier (for memory);
 * id -1 / row -1 pads a shorter list.
 */
export interface Candidates {
  perQuery: number;
  ids: BigInt64Array;
  rows: Int32Array;
}

export interface RowStore {
  /** Resident bytes (0 for a memory-mapped file: the page cache holds what queries touch). */
  readonly memoryBytes: number;
  /** score() reads candidates by row (memory) rather than by id (the file looks ids up itself). */
  readonly scoresByRow: boolean;
  /**
   * A directory on disk where data derived from these rows (the filter codes) is written and
   * memory-mapped, to be held in RAM no more than the rows themselves are: the memory-mapped
   * file's directory. Absent: such data stays in memory, beside the rows.
   */
  readonly derivedDir?: string;
  score(queries: Float32Array, nq: number, candidates: Candidates, k: number): Promise<Hit[][]>;
  /** The filtered cell scan (score-rows.ts#scoreCells): the k best rows per query, as rows of the tier in `ids`. */
  scoreCells(queries: Float32Array, scan: CellScan, k: number): Promise<SearchResult>;
  /** The vectors of `rows`, concatenated in the order given. */
  read(rows: ArrayLike<number>): Promise<Float32Array>;
  /**
   * The index's short list (`shortList` per query) re-scored here within the index's own native
   * call, when both sides can (the memory-mapped file, the FAISS index); null otherwise.
   */
  searchRescored?(
    index: VectorIndex,
    queries: Float32Array,
    nq: number,
    shortList: number,
    k: number,
    options: VectorSearchOptions,
  ): Promise<Hit[][]> | null;
  close(): Promise<void>;
}

/** Rows held in memory, row i of `vectors` belonging to the tier's ids[i]. */
export class MemoryRowStore implements RowStore {
  readonly scoresByRow = true;

  constructor(
    readonly vectors: Float32Array,
    readonly dimension: number,
  ) {}

  get memoryBytes(): number {
    return this.vectors.byteLength;
  }

  async score(
    queries: Float32Array,
    nq: number,
    { perQuery, ids, rows }: Candidates,
    k: number,
  ): Promise<Hit[][]> {
    if (perQuery === 0) return Array.from({ length: nq }, () => []);
    const top = await scoreRows(this.vectors, this.dimension, queries, rows, perQuery, k);
    const results: Hit[][] = [];
    for (let q = 0; q < nq; q++) {
      const hits: Hit[] = [];
      for (let j = q * k; j < (q + 1) * k; j++) {
        const at = Number(top.ids[j]!);
        if (at >= 0) hits.push({ id: ids[q * perQuery + at]!, score: top.distances[j]! });
      }
      results.push(hits);
    }
    return results;
  }

  scoreCells(queries: Float32Array, scan: CellScan, k: number): Promise<SearchResult> {
    return scoreCells(this.vectors, this.dimension, queries, scan, k);
  }

  async read(rows: ArrayLike<number>): Promise<Float32Array> {
    const d = this.dimension;
    const out = new Float32Array(rows.length * d);
    for (let i = 0; i < rows.length; i++)
      out.set(this.vectors.subarray(rows[i]! * d, rows[i]! * d + d), i * d);
    return out;
  }

  async close(): Promise<void> {}
}

/**
 * Rows in the snapshot's vector file (ids ascending, row i of the file = the tier's ids[i]): scored
 * natively from the memory-mapped file, read back with positional reads for equality checks.
 */
export class VectorFileStore implements RowStore {
  readonly memoryBytes = 0;
  readonly scoresByRow = false;

  private constructor(
    readonly derivedDir: string,
    private readonly file: VectorFile,
    private readonly handle: FileHandle,
    private readonly dimension: number,
    private readonly rowsOffset: number,
  ) {}

  /** `count` and `dimension` as in the snapshot's meta (the file's header was checked against them). */
  static async open(path: string, count: number, dimension: number): Promise<VectorFileStore> {
    const file = VectorFile.open(path);
    const handle = await open(path, 'r');
    // header (32 bytes), then count ids, then the rows
    return new VectorFileStore(dirname(path), file, handle, dimension, 32 + count * 8);
  }

  async score(queries: Float32Array, nq: number, { perQuery, ids }: Candidates, k: number): Promise<Hit[][]> {
    if (perQuery === 0) return Array.from({ length: nq }, () => []);
    const { ids: top, distances } = await this.file.rescore(queries, ids, k);
    return hitsPerQuery(top, distances, nq, k);
  }

  scoreCells(queries: Float32Array, scan: CellScan, k: number): Promise<SearchResult> {
    return this.file.scoreCells(queries, scan, k);
  }

  searchRescored(
    index: VectorIndex,
    queries: Float32Array,
    nq: number,
    shortList: number,
    k: number,
    options: VectorSearchOptions,
  ): Promise<Hit[][]> | null {
    if (!index.searchRescored) return null;
    return index
      .searchRescored(queries, k, this.file, shortList, options)
      .then(({ ids, distances }) => hitsPerQuery(ids, distances, nq, k));
  }

  async read(rows: ArrayLike<number>): Promise<Float32Array> {
    const rowBytes = this.dimension * 4;
    const out = new Float32Array(rows.length * this.dimension);
    const bytes = new Uint8Array(out.buffer);
    // one pread per row, a few in flight, so a big batch does not flood the libuv pool
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < rows.length; i = next++) {
        const position = this.rowsOffset + rows[i]! * rowBytes;
        const { bytesRead } = await this.handle.read(bytes, i * rowBytes, rowBytes, position);
        if (bytesRead !== rowBytes) throw new Error(`Short read of row ${rows[i]} from the vector file`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, rows.length) }, worker));
    return out;
  }

  async close(): Promise<void> {
    this.file.close();
    await this.handle.close();
  }
}
