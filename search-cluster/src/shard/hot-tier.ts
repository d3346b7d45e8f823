import { NATIVE_MAX_K } from './faiss-factory.ts';
import { type Hit, hitsPerQuery } from './topk.ts';
import type { VectorIndex, VectorSearchOptions } from './vector-index.ts';

export interface HotEntry {
  vector: Float32Array;
  /** Order of arrival in this tier; a rebuild keeps entries newer than the seq it started at. */
  seq: number;
}

/**
 * The mutable tier that takes live inserts: an exact FAISS Flat index (which can remove ids) plus the
 * vectors themselves, kept for filtered exact scans and for deciding whether a re-upsert changes
 * anything. `entries` is the truth; the native index follows it through the shard's write queue.
 */
export class HotTier {
  readonly entries = new Map<bigint, HotEntry>();
  /** Removed from `entries` but not yet from the native index; searches over-fetch by this many. */
  pendingRemovals = 0;
  private nextSeq = 1;

  constructor(
    readonly index: VectorIndex,
    readonly dimension: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The seq the next entry gets; entries below it arrived earlier. */
  get seq(): number {
    return this.nextSeq;
  }

  get memoryBytes(): number {
    return this.index.memoryBytes + this.entries.size * (this.dimension * 4 + 96);
  }

  /** Is `vector` exactly what `id` already holds here? */
  holds(id: bigint, vector: Float32Array, offset: number): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    for (let i = 0; i < this.dimension; i++) if (entry.vector[i] !== vector[offset + i]) return false;
    return true;
  }

  /** Inserts new ids (the caller removed older versions first). */
  async add(ids: BigInt64Array, vectors: Float32Array): Promise<void> {
    const d = this.dimension;
    for (let i = 0; i < ids.length; i++) {
      this.entries.set(ids[i]!, { vector: vectors.slice(i * d, i * d + d), seq: this.nextSeq++ });
    }
    await this.index.add(vectors, ids);
  }

  /** Drops ids from the tier; returns how many were here. */
  async remove(ids: Iterable<bigint>): Promise<number> {
    const present: bigint[] = [];
    for (const id of ids) if (this.entries.delete(id)) present.push(id);
    if (present.length === 0) return 0;
    this.pendingRemovals += present.length;
    try {
      await this.index.remove(BigInt64Array.from(present));
    } finally {
      this.pendingRemovals -= present.length;
    }
    return present.length;
  }

  /** Best hits per query from the native index; ids that left `entries` meanwhile are the caller's to filter. */
  async search(
    queries: Float32Array,
    nq: number,
    k: number,
    allowedIds: BigInt64Array | undefined,
  ): Promise<Hit[][]> {
    const fetchK = Math.max(1, Math.min(k + this.pendingRemovals, this.index.count, NATIVE_MAX_K));
    const options: VectorSearchOptions = allowedIds ? { allowedIds } : {};
    const { ids, distances } = await this.index.search(queries, fetchK, options);
    return hitsPerQuery(ids, distances, nq, fetchK);
  }
}
