import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import type { FaissIndex, SearchOptions, SearchResult } from './faiss-index.ts';
import { loadNative, type NativeVectorFile } from './load-native.ts';
import {
  assertDimension,
  assertIdList,
  assertIds,
  assertPath,
  assertPositiveInteger,
  assertVectors,
  MAX_K,
} from './options.ts';
import { type CellScan, cellScanArgs } from './score-rows.ts';

/**
 * Full-precision vectors on disk, memory-mapped, for exact re-scoring of a compressed index's
 * short list: an IVF-PQ main tier keeps only its codes in memory and the page cache holds the
 * rows that queries touch (as Vespa's paged attributes and clip-retrieval's mmap'd indexes do).
 * Layout: see search-cluster/native/src/vector-file.h.
 */
const MAGIC = Buffer.from('PXVECF01', 'latin1');
const HEADER_BYTES = 32;
/** Rows written per chunk while permuting into id order (bounded memory for any file size). */
const CHUNK_ROWS = 4096;

/** Largest short list re-scored per query. */
export const MAX_CANDIDATES = MAX_K;

/**
 * Writes `vectors` (rows of `dimension`) under `ids` (unique, non-negative), sorted by id, to
 * `path` atomically (a temporary file renamed into place).
 */
export async function writeVectorFile(
  path: string,
  dimension: number,
  vectors: Float32Array,
  ids: BigInt64Array,
): Promise<void> {
  assertPath(path);
  assertDimension(dimension);
  const rows = assertVectors(vectors, 'vectors', dimension);
  assertIdList(ids, 'ids', rows);
  const order = sortedOrder(ids);
  for (let i = 1; i < rows; i++) {
    if (ids[order[i]!] === ids[order[i - 1]!])
      throw new RangeError(`Expected unique ids but ${ids[order[i]!]} repeats`);
  }

  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(dimension, 8);
  header.writeBigUInt64LE(BigInt(rows), 16);
  const sortedIds = new BigInt64Array(rows);
  for (let i = 0; i < rows; i++) sortedIds[i] = ids[order[i]!]!;

  const tmp = `${path}.tmp-${process.pid}`;
  const file = await open(tmp, 'w');
  try {
    await writeAll(file, header);
    await writeAll(file, new Uint8Array(sortedIds.buffer, sortedIds.byteOffset, sortedIds.byteLength));
    const chunk = new Float32Array(Math.min(rows, CHUNK_ROWS) * dimension);
    for (let start = 0; start < rows; start += CHUNK_ROWS) {
      const end = Math.min(rows, start + CHUNK_ROWS);
      for (let i = start; i < end; i++) {
        const row = order[i]!;
        chunk.set(vectors.subarray(row * dimension, (row + 1) * dimension), (i - start) * dimension);
      }
      await writeAll(file, new Uint8Array(chunk.buffer, 0, (end - start) * dimension * 4));
    }
    await file.sync();
  } catch (error) {
    await file.close();
    await rm(tmp, { force: true });
    throw error;
  }
  await file.close();
  await rename(tmp, path);
}

async function writeAll(file: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length; ) {
    const { bytesWritten } = await file.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

function sortedOrder(ids: BigInt64Array): Uint32Array {
  const order = new Uint32Array(ids.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  let ascending = true;
  for (let i = 1; i < ids.length && ascending; i++) ascending = ids[i]! > ids[i - 1]!;
  if (!ascending) order.sort((a, b) => (ids[a]! < ids[b]! ? -1 : ids[a]! > ids[b]! ? 1 : 0));
  return order;
}

/** A memory-mapped vector file (see writeVectorFile). */
export class VectorFile {
  readonly #native: NativeVectorFile;
  #closed = false;

  private constructor(native: NativeVectorFile) {
    this.#native = native;
  }

  /** Maps the file; a truncated or foreign file throws a clear error. */
  static open(path: string): VectorFile {
    assertPath(path);
    return new VectorFile(loadNative().openVectorFile(path));
  }

  get count(): number {
    return this.#native.count;
  }

  get dimension(): number {
    return this.#native.dimension;
  }

  /**
   * Exact inner products of each query against its own candidates (candidates.length / nq ids per
   * query; -1n and ids not in the file are skipped); the k best per query, best first, padded with
   * -1n / -Infinity.
   */
  async rescore(queries: Float32Array, candidates: BigInt64Array, k: number): Promise<SearchResult> {
    if (this.#closed) throw new Error('The vector file is closed');
    assertPositiveInteger(k, 'k', MAX_K);
    const nq = assertVectors(queries, 'queries', this.dimension);
    assertIds(candidates, 'candidates');
    if (candidates.length % nq !== 0) {
      throw new RangeError(
        `Expected candidates length to be a multiple of the query count ${nq} but received ${candidates.length}`,
      );
    }
    return this.#native.rescore(queries, candidates, k);
  }

  /** The filtered cell scan (score-rows.ts#scoreCells) over the file's rows: the k best rows per query. */
  async scoreCells(queries: Float32Array, scan: CellScan, k: number): Promise<SearchResult> {
    if (this.#closed) throw new Error('The vector file is closed');
    return this.#native.scoreCells(...cellScanArgs(this.count, this.dimension, queries, scan, k));
  }

  /** Runs `use` with the native file while it is open (FaissIndex#searchRescored hands it to the index's own call). */
  withNative<T>(use: (file: NativeVectorFile) => T): T {
    if (this.#closed) throw new Error('The vector file is closed');
    return use(this.#native);
  }

  /** Unmaps once re-scorings and scans already running finish. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
  }
}

export interface RescoredSearchOptions extends SearchOptions {
  /** Short-list length per query taken from the index and re-scored exactly; default 10 * k (at most 1000). */
  candidates?: number;
}

/**
 * Searches a compressed index for a short list, then re-ranks it by exact inner product with the
 * full-precision vectors: PQ distances only decide who makes the list, not the final order.
 */
export async function searchRescored(
  index: FaissIndex,
  vectors: VectorFile,
  queries: Float32Array,
  k: number,
  options: RescoredSearchOptions = {},
): Promise<SearchResult> {
  const { candidates = Math.min(MAX_CANDIDATES, 10 * k), ...searchOptions } = options;
  assertPositiveInteger(k, 'k', MAX_K);
  assertPositiveInteger(candidates, 'candidates', MAX_CANDIDATES);
  if (candidates < k)
    throw new RangeError(`Expected candidates at least k (${k}) but received ${candidates}`);
  return index.searchRescored(queries, k, vectors, candidates, searchOptions);
}
