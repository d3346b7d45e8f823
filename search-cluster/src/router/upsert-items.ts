import { badRequest } from '../errors.ts';
import { shardOfHalves } from '../shard/partition.ts';
import { toIdArray } from '../shard/validate.ts';
import type { ClusterPlacement } from './cluster-placement.ts';
import type { UpsertItems } from './router.types.ts';

/** Accepts either item objects or two flat arrays; returns flat arrays. */
export function packItems(items: UpsertItems): { ids: BigInt64Array; vectors: Float32Array } {
  if (!Array.isArray(items)) {
    const { ids, vectors } = items as { ids: BigInt64Array; vectors: Float32Array };
    toIdArray('ids', ids);
    if (!(vectors instanceof Float32Array) || (ids.length > 0 && vectors.length % ids.length !== 0)) {
      throw badRequest(`Expected a Float32Array holding one vector per id for vectors`);
    }
    return { ids, vectors };
  }
  const list = items as readonly { id: bigint; vector: Float32Array }[];
  if (list.length === 0) return { ids: new BigInt64Array(0), vectors: new Float32Array(0) };
  const d = list[0]!.vector?.length ?? 0;
  const ids = toIdArray(
    'ids',
    list.map((item) => item.id),
  );
  const vectors = new Float32Array(list.length * d);
  list.forEach((item, i) => {
    if (!(item.vector instanceof Float32Array) || item.vector.length !== d || d === 0) {
      throw badRequest(`Expected every vector to be a Float32Array of dimension ${d} but item ${i} is not`);
    }
    vectors.set(item.vector, i * d);
  });
  return { ids, vectors };
}

/** Rows of `ids` by owning shard under hash partitioning (`shardOf`). */
export function rowsByShard(ids: BigInt64Array, shardCount: number): number[][] {
  const rows: number[][] = Array.from({ length: shardCount }, () => []);
  const halves = new Uint32Array(ids.buffer, ids.byteOffset, ids.length * 2);
  for (let i = 0; i < ids.length; i++) {
    rows[shardOfHalves(halves[i * 2]!, halves[i * 2 + 1]!, shardCount)]!.push(i);
  }
  return rows;
}

/** Rows of `vectors` (dimension `d`) by the shard the placement gives each. */
export function rowsByVector(
  placement: ClusterPlacement,
  modelVersion: string,
  vectors: Float32Array,
  d: number,
  shardCount: number,
): number[][] {
  const rows: number[][] = Array.from({ length: shardCount }, () => []);
  for (let i = 0; i < vectors.length / d; i++) rows[placement.shardOf(modelVersion, vectors, i * d)]!.push(i);
  return rows;
}
