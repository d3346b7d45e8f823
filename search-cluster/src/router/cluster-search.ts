import type { ShardSearchRequest } from '../shard/shard.ts';
import { type Hit, mergeTopK } from '../shard/topk.ts';
import type { ShardAnswer } from './hedged-search.ts';
import type { PartitionMap } from './partition-map.ts';
import { nextShards, type ProbePlan, probePlan } from './probe-plan.ts';

/**
 * A search over cluster-partitioned shards (issue 14, item 5): each query goes first to the shard
 * of its nearest centroid, then, in a second round, to every other shard whose best possible score
 * reaches the k-th score of what the first round found (probe-plan.ts). Queries of a batch that
 * want the same shard in a round share one request to it. A shard that fails leaves its queries
 * with fewer than k hits or a lower k-th score, so the next round widens to the remaining shards:
 * losing a shard (all its replicas) costs recall on that shard's vectors only.
 */
export interface ProbeSearchInput {
  map: PartitionMap;
  /** The request every shard gets, without its queries. */
  base: Omit<ShardSearchRequest, 'queries'>;
  /** The queries, one view each. */
  queries: readonly Float32Array[];
  k: number;
  /** Searches `requests[s]` on shard s (skipping nulls); answers in shard order. */
  fanOut: (requests: readonly (ShardSearchRequest | null)[]) => Promise<(ShardAnswer | undefined)[]>;
}

export interface ProbeSearchResult {
  results: Hit[][];
  /** Every shard answer, each round's, for the router's error rules. */
  answers: ShardAnswer[];
  /** Shards that were searched (for at least one query) and answered. */
  shardsAnswered: Set<number>;
  /** Shards searched that failed. */
  shardsFailed: Set<number>;
}

export async function probeSearch(input: ProbeSearchInput): Promise<ProbeSearchResult> {
  const { map, base, queries, k } = input;
  const d = map.dimension;
  const plans: ProbePlan[] = queries.map((q) => probePlan(map, q, 0));
  const searched = queries.map(() => new Set<number>());
  const lists: Hit[][][] = queries.map(() => []);
  const answers: ShardAnswer[] = [];
  const shardsAnswered = new Set<number>();
  const shardsFailed = new Set<number>();
  // round one: the nearest shard of each query
  let want: number[][] = plans.map((plan) => [plan.order[0]!]);
  while (want.some((shards) => shards.length > 0)) {
    const perShard: number[][] = Array.from({ length: map.shardCount }, () => []);
    want.forEach((shards, q) => {
      for (const s of shards) {
        perShard[s]!.push(q);
        searched[q]!.add(s);
      }
    });
    const requests = perShard.map((qs): ShardSearchRequest | null => {
      if (qs.length === 0) return null;
      if (qs.length === 1) return { ...base, queries: queries[qs[0]!]! };
      const packed = new Float32Array(qs.length * d);
      for (const [i, q] of qs.entries()) packed.set(queries[q]!, i * d);
      return { ...base, queries: packed };
    });
    const round = await input.fanOut(requests);
    round.forEach((answer, s) => {
      if (!answer) return;
      answers.push(answer);
      if (!answer.ok) {
        shardsFailed.add(s);
        return;
      }
      shardsAnswered.add(s);
      for (const [i, q] of perShard[s]!.entries()) lists[q]!.push(answer.results[i] ?? []);
    });
    want = plans.map((plan, q) => {
      const best = mergeTopK(lists[q]!, k);
      lists[q] = [best];
      const kth = best.length < k ? Number.NEGATIVE_INFINITY : best[k - 1]!.score;
      return nextShards(plan, searched[q]!, kth);
    });
  }
  return { results: lists.map((l) => l[0] ?? []), answers, shardsAnswered, shardsFailed };
}
