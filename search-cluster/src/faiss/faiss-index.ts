import {
  describeBuild,
  type FaissBuild,
  type IndexKind,
  loadNative,
  type NativeIndex,
} from './load-native.ts';
import {
  assertCreateOptions,
  assertDimension,
  assertFactory,
  assertIdList,
  assertPath,
  assertPositiveInteger,
  assertSearchOptions,
  assertVectors,
  type CreateOptions,
  invalidParameterError,
  MAX_K,
  type SearchOptions,
} from './options.ts';
import { ReadWriteLock } from './rw-lock.ts';
import type { VectorFile } from './vector-file.ts';

export type { FaissBuild, IndexKind } from './load-native.ts';
export type { CreateOptions, SearchOptions } from './options.ts';

export interface SearchResult {
  /** nq * k inner products, best first within each query; -Infinity where no result. */
  distances: Float32Array;
  /** nq * k ids; -1n where fewer than k results exist. */
  ids: BigInt64Array;
}

const inFlight = { search: 0, add: 0, remove: 0, train: 0, read: 0, write: 0 };
export type NativeOp = keyof typeof inFlight;

/**
 * Native calls started and not finished, by operation, in this process. Each runs on the libuv
 * pool (UV_THREADPOOL_SIZE threads, 4 by default); more in flight than threads means they queue.
 */
export function nativeCallsInFlight(): Readonly<Record<NativeOp, number>> {
  return { ...inFlight };
}

async function tracked<T>(op: NativeOp, call: () => T | Promise<T>): Promise<T> {
  inFlight[op]++;
  try {
    return await call();
  } finally {
    inFlight[op]--;
  }
}

/**
 * One FAISS index with the inner-product metric and our own int64 ids: Flat and HNSW are wrapped
 * in an IndexIDMap, the IVF family keeps ids itself. Every slow call runs on the libuv pool.
 *
 * Searches and serialisation run alongside each other; train, add and remove run alone (the native
 * object has no lock, and FAISS indexes are not safe to read while they change). Vectors are
 * expected L2-normalised, so scores are cosine similarities; ids must be unique (not checked).
 */
export class FaissIndex {
  readonly #native: NativeIndex;
  readonly #lock = new ReadWriteLock();
  #closed = false;
  // Read back from the addon only while no write runs, so the getters never race a worker thread.
  #count = 0;
  #isTrained = false;
  #memoryBytes = 0;
  readonly #dimension: number;
  readonly #kind: IndexKind;

  private constructor(native: NativeIndex) {
    this.#native = native;
    this.#dimension = native.dimension;
    this.#kind = native.kind;
    this.#refresh();
  }

  /**
   * A new empty index from a FAISS factory string ("Flat", "HNSW32", "IVF1024,PQ64", "HNSW32,SQ8",
   * "IVF1024,PQ128x4fs" for IVF-PQ fast scan, ...). PQ codes
   * skip FAISS's polysemous training (it only serves a search mode this wrapper never uses).
   */
  static create(dimension: number, factory: string, options: CreateOptions = {}): FaissIndex {
    assertDimension(dimension);
    assertFactory(factory);
    assertCreateOptions(options);
    return new FaissIndex(loadNative().create(dimension, factory, options.efConstruction ?? 0));
  }

  /** Loads an index that write() saved; a missing or corrupt file rejects, it never crashes. */
  static async read(path: string): Promise<FaissIndex> {
    assertPath(path);
    try {
      return new FaissIndex(await tracked('read', () => loadNative().read(path)));
    } catch (error) {
      throw new Error(`Could not read FAISS index from ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** Loads an index from toBuffer()'s bytes; corrupt bytes reject, they never crash. */
  static async fromBuffer(bytes: Uint8Array): Promise<FaissIndex> {
    if (!(bytes instanceof Uint8Array)) throw invalidParameterError('bytes', 'Buffer or Uint8Array', bytes);
    if (bytes.length === 0)
      throw new RangeError('Expected a non-empty buffer for bytes but received 0 bytes');
    try {
      return new FaissIndex(await tracked('read', () => loadNative().fromBuffer(bytes)));
    } catch (error) {
      throw new Error(`Could not read FAISS index from buffer: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  get dimension(): number {
    return this.#dimension;
  }

  /** Vectors in the index, as of the last finished write. */
  get count(): number {
    return this.#count;
  }

  get isTrained(): boolean {
    return this.#isTrained;
  }

  /** Estimated resident bytes of the index's data (codes, graph, lists, id map). */
  get memoryBytes(): number {
    return this.#memoryBytes;
  }

  get kind(): IndexKind {
    return this.#kind;
  }

  /** IVF and PQ indexes learn their centroids from a sample; Flat and HNSW need no training. */
  async train(vectors: Float32Array): Promise<void> {
    assertVectors(vectors, 'vectors', this.#dimension);
    return this.#write(() => tracked('train', () => this.#native.train(vectors)));
  }

  /** Adds vectors (rows of `dimension` floats) under the given ids, one id per row. */
  async add(vectors: Float32Array, ids: BigInt64Array): Promise<void> {
    const rows = assertVectors(vectors, 'vectors', this.#dimension);
    assertIdList(ids, 'ids', rows);
    return this.#write(() => {
      if (!this.#isTrained) {
        throw new Error(
          `Expected a trained index before add but this ${this.#kind} index is not trained; call train() first`,
        );
      }
      return tracked('add', () => this.#native.add(vectors, ids));
    });
  }

  /**
   * Removes the ids that are present and returns how many were removed. HNSW cannot remove (rejects);
   * IVF fast scan, which FAISS 1.7.3 cannot remove from either, removes through the addon's own code.
   */
  async remove(ids: BigInt64Array): Promise<number> {
    assertIdList(ids, 'ids');
    if (ids.length === 0) return 0;
    return this.#write(() => tracked('remove', () => this.#native.remove(ids)));
  }

  /** The k best ids per query by inner product, best first; an empty index answers -1n everywhere. */
  async search(queries: Float32Array, k: number, options?: SearchOptions): Promise<SearchResult> {
    assertPositiveInteger(k, 'k', MAX_K);
    assertVectors(queries, 'queries', this.#dimension);
    assertSearchOptions(options);
    return this.#read(() => tracked('search', () => this.#native.search(queries, k, options)));
  }

  /**
   * search() for a short list of `shortList` ids per query, re-scored by exact inner product
   * against `vectors` in the same native call (one trip to the libuv pool): the k best per query,
   * best first, padded with -1n / -Infinity. vector-file.ts#searchRescored is the usual way in.
   */
  async searchRescored(
    queries: Float32Array,
    k: number,
    vectors: VectorFile,
    shortList: number,
    options?: SearchOptions,
  ): Promise<SearchResult> {
    assertPositiveInteger(k, 'k', MAX_K);
    assertPositiveInteger(shortList, 'shortList', MAX_K);
    if (shortList < k) throw new RangeError(`Expected shortList at least k (${k}) but received ${shortList}`);
    assertVectors(queries, 'queries', this.#dimension);
    assertSearchOptions(options);
    if (vectors.dimension !== this.#dimension)
      throw new RangeError(
        `Expected vectors of dimension ${this.#dimension} but received ${vectors.dimension}`,
      );
    return this.#read(() =>
      tracked('search', () =>
        vectors.withNative((file) =>
          this.#native.search(queries, shortList, { ...options, rescore: file, rescoreK: k }),
        ),
      ),
    );
  }

  /** Saves the index in FAISS's file format (FaissIndex.read loads it). */
  async write(path: string): Promise<void> {
    assertPath(path);
    return this.#read(() => tracked('write', () => this.#native.write(path)));
  }

  /** The bytes write() would save. */
  async toBuffer(): Promise<Buffer> {
    return this.#read(() => tracked('write', () => this.#native.toBuffer()));
  }

  /** Frees the index once calls already running finish; later calls reject. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
  }

  #read<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('The index is closed'));
    return this.#lock.read(async () => {
      if (this.#closed) throw new Error('The index is closed');
      return fn();
    });
  }

  #write<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('The index is closed'));
    return this.#lock.write(async () => {
      if (this.#closed) throw new Error('The index is closed');
      try {
        return await fn();
      } finally {
        this.#refresh();
      }
    });
  }

  #refresh(): void {
    if (this.#closed) return;
    this.#count = this.#native.count;
    this.#isTrained = this.#native.isTrained;
    this.#memoryBytes = this.#native.memoryBytes;
  }
}

/** Threads each FAISS call may use (OpenMP, and OpenBLAS for batched flat search); 0: all cores. */
export function setFaissThreads(threads: number): void {
  if (threads !== 0) assertPositiveInteger(threads, 'threads', 1024);
  loadNative().setThreads(threads);
}

export function getFaissThreads(): number {
  return loadNative().getThreads();
}

/** Whether the loaded addon links FAISS built for AVX2 (false: Debian's generic build). */
export function isAvx2Build(): boolean {
  return loadNative().avx2;
}

/** Which FAISS the loaded addon links (AVX2 build or Debian's generic library, patched or not). */
export function faissBuild(): FaissBuild {
  return describeBuild(loadNative());
}
