import { badRequest } from '../errors.ts';
import { toIdArray } from '../shard/validate.ts';
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
