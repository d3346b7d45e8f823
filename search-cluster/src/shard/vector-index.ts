import type { NativeIndex } from '../faiss/load-native.ts';
import type { VectorFile } from '../faiss/vector-file.ts';

/**
 * The slice of the native FAISS wrapper (`../faiss/faiss-index.ts`) the shard relies on. Keeping it
 * an interface lets router tests run without the addon and documents exactly what a tier needs.
 */
export interface VectorSearchOptions {
  /** IVF: inverted lists probed per query. */
  nprobe?: number;
  /** HNSW: candidate list size during search. */
  efSearch?: number;
  /** Only these ids may be returned (an id selector inside FAISS). */
  allowedIds?: BigInt64Array;
}

export interface VectorSearchResult {
  /** nq * k inner products, best first per query. */
  distances: Float32Array;
  /** nq * k ids, -1n where fewer than k were found. */
  ids: BigInt64Array;
}

/** The native index as a tier sees it: no kind, no in-memory serialisation. */
export interface VectorIndex
  extends Pick<
    NativeIndex,
    'dimension' | 'count' | 'isTrained' | 'memoryBytes' | 'train' | 'add' | 'remove' | 'write' | 'close'
  > {
  search(queries: Float32Array, k: number, options?: VectorSearchOptions): Promise<VectorSearchResult>;
  /** A short list of `shortList` per query re-scored against `vectors` in the same native call (faiss-index.ts). */
  searchRescored?(
    queries: Float32Array,
    k: number,
    vectors: VectorFile,
    shortList: number,
    options?: VectorSearchOptions,
  ): Promise<VectorSearchResult>;
}

/** Creates and loads indexes; the shard never names the native class itself. */
export interface VectorIndexFactory {
  /** `factory` is a FAISS index_factory string ("Flat", "HNSW32", "IVF1024,PQ64"); metric is inner product. */
  create(dimension: number, factory: string): VectorIndex;
  read(path: string): Promise<VectorIndex>;
}
