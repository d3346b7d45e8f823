import { VectorFile } from '../faiss/vector-file.ts';
import { dot, type Hit, TopK } from './topk.ts';

/**
 * Exact candidate scoring for an immutable tier: the main tier re-scores its compressed short list
 * and scans small filtered subsets here. Candidates are given per query, `perQuery` each, as ids
 * (for the memory-mapped file, which looks rows up itself) and as rows of the tier (for memory);
 * id -1 / row -1 pads a shorter list.
 */
export interface RowStore {
  /** Resident bytes (0 for a memory-mapped file: the page cache holds what queries touch). */
  readonly memoryBytes: number;
  score(
    queries: Float32Array,
    nq: number,
    perQuery: number,
    ids: BigInt64Array,
    rows: Int32Array,
    k: number,
  ): Promise<Hit[][]>;
  /** The vectors of `rows` concatenated, where the store can hand them out (memory); null otherwise. */
  read(rows: ArrayLike<number>): Promise<Float32Array | null>;
  close(): Promise<void>;
}

/** Rows held in memory, row i of `vectors` belonging to the tier's ids[i]. */
export class MemoryRowStore implements RowStore {
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
    perQuery: number,
    ids: BigInt64Array,
    rows: Int32Array,
    k: number,
  ): Promise<Hit[][]> {
    const d = this.dimension;
    const results: Hit[][] = [];
    for (let q = 0; q < nq; q++) {
      const top = new TopK(k);
      for (let j = q * perQuery; j < (q + 1) * perQuery; j++) {
        const row = rows[j]!;
        if (row < 0) continue;
        top.push(ids[j]!, Math.fround(dot(queries, q * d, this.vectors, row * d, d)));
      }
      results.push(top.result());
    }
    return results;
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

/** Rows in the snapshot's memory-mapped vector file, scored natively off the main thread. */
export class VectorFileStore implements RowStore {
  readonly memoryBytes = 0;

  private constructor(private readonly file: VectorFile) {}

  static open(path: string): VectorFileStore {
    return new VectorFileStore(VectorFile.open(path));
  }

  async score(
    queries: Float32Array,
    nq: number,
    perQuery: number,
    ids: BigInt64Array,
    _rows: Int32Array,
    k: number,
  ): Promise<Hit[][]> {
    if (perQuery === 0) return Array.from({ length: nq }, () => []);
    const { ids: top, distances } = await this.file.rescore(queries, ids, k);
    const results: Hit[][] = [];
    for (let q = 0; q < nq; q++) {
      const hits: Hit[] = [];
      for (let j = q * k; j < (q + 1) * k; j++) {
        const id = top[j]!;
        if (id >= 0n) hits.push({ id, score: distances[j]! });
      }
      results.push(hits);
    }
    return results;
  }

  async read(): Promise<null> {
    return null;
  }

  async close(): Promise<void> {
    this.file.close();
  }
}
