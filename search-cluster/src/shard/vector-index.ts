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

export interface VectorIndex {
  readonly dimension: number;
  readonly count: number;
  readonly isTrained: boolean;
  readonly memoryBytes: number;
  train(vectors: Float32Array): Promise<void>;
  add(vectors: Float32Array, ids: BigInt64Array): Promise<void>;
  remove(ids: BigInt64Array): Promise<number>;
  search(queries: Float32Array, k: number, options?: VectorSearchOptions): Promise<VectorSearchResult>;
  write(path: string): Promise<void>;
  close(): void;
}

/** Creates and loads indexes; the shard never names the native class itself. */
export interface VectorIndexFactory {
  /** `factory` is a FAISS index_factory string ("Flat", "HNSW32", "IVF1024,PQ64"); metric is inner product. */
  create(dimension: number, factory: string): VectorIndex;
  read(path: string): Promise<VectorIndex>;
}
