import { halves, hashHalves } from './int64.ts';

/**
 * Which shard owns an image: `jumpHash(hashId(id), shardCount)`.
 *
 * - `hashId` mixes the two 32-bit halves of the int64 id with Murmur3's finaliser, so sequential
 *   ids spread evenly.
 * - Jump consistent hashing (Lamping & Veach, 2014) then picks a bucket; growing from n to n+1
 *   shards moves only ~1/(n+1) of the ids, all of them to the new shard. Its pseudo-random
 *   sequence here is a 32-bit xorshift seeded by the hash, so the function is pure Number math.
 *
 * The mapping is part of the on-disk contract: shard servers reject ids they do not own and
 * rebuilds keep only owned ids, so changing this function means re-sharding every index.
 */
export function jumpHash(hash: number, buckets: number): number {
  let state = hash >>> 0 || 0x9e3779b9;
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    // r in (0, 1]: never zero, so the division below is finite
    const r = ((state >>> 8) + 1) / 0x1000000;
    j = Math.floor((b + 1) / r);
  }
  return b;
}

export function shardOfHalves(lo: number, hi: number, shardCount: number): number {
  return shardCount === 1 ? 0 : jumpHash(hashHalves(lo, hi), shardCount);
}

/** The shard (0-based) that owns `id` among `shardCount` shards. */
export function shardOf(id: bigint, shardCount: number): number {
  if (shardCount === 1) return 0;
  const [lo, hi] = halves(id);
  return shardOfHalves(lo, hi, shardCount);
}

/** Splits `ids` by owning shard, keeping each shard's ids in input order. */
export function partitionIds(ids: BigInt64Array, shardCount: number): BigInt64Array[] {
  if (shardCount === 1) return [ids];
  const h = new Uint32Array(ids.buffer, ids.byteOffset, ids.length * 2);
  const owner = new Uint32Array(ids.length);
  const counts = new Uint32Array(shardCount);
  for (let i = 0; i < ids.length; i++) {
    const s = shardOfHalves(h[i * 2]!, h[i * 2 + 1]!, shardCount);
    owner[i] = s;
    counts[s]!++;
  }
  const out = Array.from(counts, (n) => new BigInt64Array(n));
  const fill = new Uint32Array(shardCount);
  for (let i = 0; i < ids.length; i++) {
    const s = owner[i]!;
    out[s]![fill[s]!++] = ids[i]!;
  }
  return out;
}

/** Which slice of the collection a shard holds. */
export interface Partition {
  /** 0-based shard number. */
  index: number;
  /** Total number of shards. */
  count: number;
  /**
   * Absent: the shard holds the ids `shardOf` gives it. Set: vectors are placed by a
   * VectorPlacement and this names the placement (its map version), so that a snapshot placed
   * otherwise is not loaded.
   */
  placement?: string;
}

export function owns(partition: Partition, id: bigint): boolean {
  return shardOf(id, partition.count) === partition.index;
}

/**
 * Where vectors live when shards are partitioned by vector instead of by id (cluster
 * partitioning, router/cluster-placement.ts). An id's shard then follows its vector: a re-upload
 * with a new vector may move it, so a shard treats a change it does not own as a deletion.
 */
export interface VectorPlacement {
  /** Names the placement of `modelVersion` (Partition.placement). */
  label(modelVersion: string): string;
  /** The shard owning the vector at `offset` of `vectors` under `modelVersion`. */
  shardOf(modelVersion: string, vectors: Float32Array, offset: number): number;
}

/**
 * Whether the shard of `partition` is concerned by a record: by its vector under a placement, else
 * by its id. A deletion (`vector` null) concerns every shard under a placement: any may hold the id.
 */
export function ownsRecord(
  partition: Partition,
  placement: VectorPlacement | undefined,
  modelVersion: string,
  id: bigint,
  vector: Float32Array | null,
): boolean {
  if (!placement) return owns(partition, id);
  return vector === null || placement.shardOf(modelVersion, vector, 0) === partition.index;
}
