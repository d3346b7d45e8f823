import type { VectorChange, VectorSource } from '../rebuild/vector-source.ts';
import type { Partition } from './partition.ts';

/** Where a refill writes: the model index's own write path (its write queue orders them). */
export interface RefillTarget {
  modelVersion: string;
  dimension: number;
  /** The source's partition hint. */
  partition: Partition;
  /** Whether this shard holds the record (ownsRecord). */
  owns(id: bigint, vector: Float32Array | null): boolean;
  /** Vectors are placed by value: a change this shard does not own may move an id away from it. */
  placed: boolean;
  /** True once the shard shuts down: the refill stops. */
  closed(): boolean;
  upsert(ids: BigInt64Array, vectors: Float32Array): Promise<unknown>;
  delete(ids: BigInt64Array): Promise<unknown>;
}

/**
 * Replays the source's changes after `watermark` (the loaded snapshot's) into `target`, in
 * order, batched by kind; returns how many were applied. Idempotent: a refill that failed half-way
 * is redone from the same watermark.
 */
export async function refillFromSource(
  source: VectorSource,
  watermark: bigint,
  target: RefillTarget,
): Promise<number> {
  const { dimension: d, partition, modelVersion } = target;
  let upsertIds: bigint[] = [];
  let upsertVectors: Float32Array[] = [];
  let deleteIds: bigint[] = [];
  const flush = async () => {
    if (upsertIds.length > 0) {
      const vectors = new Float32Array(upsertIds.length * d);
      for (const [i, v] of upsertVectors.entries()) vectors.set(v, i * d);
      await target.upsert(BigInt64Array.from(upsertIds), vectors);
      upsertIds = [];
      upsertVectors = [];
    }
    if (deleteIds.length > 0) {
      await target.delete(BigInt64Array.from(deleteIds));
      deleteIds = [];
    }
  };
  let applied = 0;
  for await (const change of source.since(
    modelVersion,
    watermark,
    partition,
  ) as AsyncIterable<VectorChange>) {
    if (target.closed()) return applied;
    const owned = target.owns(change.id, change.vector);
    // by id, another shard's change is none of ours; by vector, it says the id left this shard
    if (!owned && !target.placed) continue;
    // keep call order between the two kinds of change: flush the other kind first
    if (!owned || change.vector === null) {
      if (upsertIds.length > 0) await flush();
      deleteIds.push(change.id);
    } else {
      if (change.vector.length !== d || !change.vector.every(Number.isFinite)) continue;
      if (deleteIds.length > 0) await flush();
      upsertIds.push(change.id);
      upsertVectors.push(change.vector);
    }
    if (upsertIds.length + deleteIds.length >= 1024) await flush();
    applied++;
  }
  await flush();
  return applied;
}
