import { dotAt } from '../vector-math.ts';
import { type PartitionMap, shardScores } from './partition-map.ts';

/**
 * Which shards a query visits under a cluster partition map, and in what order.
 *
 * A shard's best possible score for a query is estimated as its best centroid score plus the map's
 * slack (scaled by the query's length), the largest gap the map's calibration saw between a
 * neighbour's score and its shard's centroid score (partition-map.ts). The router searches the
 * shard of the nearest centroid first, then every shard whose best possible score reaches the
 * k-th score found so far (`nextShards`); the others are left out.
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
  const norm = Math.sqrt(dotAt(queries, offset, queries, offset, map.dimension));
  const scores = shardScores(map, queries, offset);
  const bound = scores.map((score) => score + norm * map.slack);
  const order = Array.from({ length: map.shardCount }, (_, s) => s).sort(
    (a, b) => scores[b]! - scores[a]! || a - b,
  );
  return { order, bound };
}

/**
 * The shards still worth searching after `searched`: those whose bound reaches `kthScore` (the k-th
 * best score so far, -Infinity while fewer than k hits are in hand), in plan order.
 */
export function nextShards(plan: ProbePlan, searched: ReadonlySet<number>, kthScore: number): number[] {
  return plan.order.filter((s) => !searched.has(s) && plan.bound[s]! >= kthScore);
}
