import type { VectorChange, VectorSource } from '../rebuild/vector-source.ts';
import { owns, type Partition } from './partition.ts';

/** Where a refill writes: the model index's own write path (its write queue orders them). */
export interface RefillTarget {
  modelVersion: string;
  dimension: number;
  partition: Partition;
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
    if (!owns(partition, change.id)) continue;
    // keep call order between the two kinds of change: flush the other kind first
    if (change.vector === null) {
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
