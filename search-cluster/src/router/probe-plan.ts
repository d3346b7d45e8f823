import { type PartitionMap, shardScores } from './partition-map.ts';

/**
 * Which shards a query visits under a cluster partition map, and in what order.
 *
 * A shard's best possible score for a query is estimated as its best centroid score plus the map's
 * slack (scaled by the query's length), the largest gap the map's calibration saw between a
 * neighbour's score and its shard's centroid score (partition-map.ts). The router searches the
 * shard of the nearest centroid first, then every shard whose best possible score reaches the
 * k-th score found so far (cluster-search.ts); the others are left out.
 *
 * A geometric bound (cluster radius and the triangle inequality on the sphere) was tried first: in
 * 128 dimensions members sit 60-80 degrees from their centroid, so it let every shard through.
 */
export interface ProbePlan {
  /** Shards, nearest centroid first. */
  order: number[];
  /** Each shard's best possible score for this query (indexed by shard). */
  bound: Float64Array;
}

export function probePlan(map: PartitionMap, queries: Float32Array, offset: number): ProbePlan {
  const d = map.dimension;
  let norm = 0;
  for (let i = offset; i < offset + d; i++) norm += queries[i]! * queries[i]!;
  const scores = shardScores(map, queries, offset);
  const bound = new Float64Array(map.shardCount);
  const order: number[] = [];
  for (let s = 0; s < map.shardCount; s++) {
    bound[s] = scores[s]! + Math.sqrt(norm) * map.slack;
    // insertion by score (a handful of shards; equal scores keep the smaller index first)
    let at = order.length;
    while (at > 0 && scores[order[at - 1]!]! < scores[s]!) at--;
    order.splice(at, 0, s);
  }
  return { order, bound };
}
