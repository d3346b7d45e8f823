import { DEFAULT_TIER_OPTIONS } from '../shard/options.ts';

/**
 * Per-shard search parameters scaled to the shard's share of the collection (issue 14, item 5).
 *
 * The parameters a caller (or the shard defaults) names describe a search of the whole collection
 * as if it were one shard. Sent unchanged to each of S hash-partitioned shards, every shard does
 * the whole search's work on 1/S of the vectors (bench/results/router.md). The router sends:
 *
 * - efSearch / sqrt(S), rounded up, but never below min(efSearch, 64) nor below k: only a
 *   candidate list longer than 64 is shortened. A smaller HNSW graph needs a shorter list for the
 *   same recall only where recall has saturated: in bench:router (50k x 128, 4 shards, FAISS with
 *   the heap fix) whole efSearch 128 -> 64 per shard kept recall@10 (1.000 = 1.000), while 64 -> 32
 *   lost 0.002 and 32 -> 16 lost 0.008 against one shard at the whole value.
 * - rescoreFactor / S, rounded up (in-process shards; it is fixed when a main tier is built): the
 *   global `k * rescoreFactor` re-scored candidates spread evenly over the shards.
 * - nprobe unchanged. A shard of n/S vectors has about 1/sqrt(S) as many IVF lists, but in high
 *   dimensions a coarser partition's cells are barely wider, so a query's neighbourhood still
 *   touches about as many lists: probing the "same share" (nprobe / sqrt(S)) lost 0.08 recall@10
 *   in bench:router (50k x 128, 4 shards), keeping nprobe lost none.
 *
 * With one shard every rule is the identity. A filtered search keeps the whole parameters (its id
 * selector already thins each shard's candidates). `scaleSearchParams: false` on the router turns
 * all of this off.
 */

/** Per-shard efSearch is never cut below this (or below the whole efSearch when that is smaller). */
export const EF_SEARCH_FLOOR = 64;

/** efSearch for one of `shardCount` shards; at least k (FAISS needs efSearch >= k). */
export function shardEfSearch(efSearch: number, shardCount: number, k: number): number {
  const floor = Math.min(efSearch, EF_SEARCH_FLOOR);
  return Math.max(k, floor, Math.ceil(efSearch / Math.sqrt(shardCount)));
}

/** rescoreFactor for the main tier of one of `shardCount` shards. */
export function shardRescoreFactor(rescoreFactor: number, shardCount: number): number {
  return Math.max(1, Math.ceil(rescoreFactor / shardCount));
}

/** The whole-collection efSearch the router scales when a query names none: the shard default. */
export const DEFAULT_WHOLE_EF_SEARCH = DEFAULT_TIER_OPTIONS.efSearch;

/** Search parameters of one shard's request; no nprobe: the shard's own default (calibrated per build). */
export interface ShardSearchParams {
  nprobe?: number;
  efSearch: number;
}

/**
 * Per-shard parameters under cluster partitioning (cluster-search.ts), from the whole-collection
 * ones. A query asks the shard of its nearest centroid first, then the shards whose bound reaches
 * the k-th score found ("slack" shards):
 *
 * - nprobe is unchanged on every probed shard: the query's, else none, so each shard probes its own
 *   default, calibrated on its rows at build (rebuild/calibrate-nprobe.ts). The rule before sent
 *   the nearest shard nprobe x sqrt(S) (its lists are finer where the query is) and slack shards
 *   nprobe / sqrt(S); bench:router (4 shards, two-level data) measured the same recall with the
 *   shards' own defaults for less CPU: 400k x 512, 0.931 at +40.5% against 0.932 at +18.2%
 *   (bench/results/router-512d.md); 50k x 128, 0.934 at +28.5% against +9% (router.md). With
 *   residual codes too: 0.977 against 0.979 (router-512d-residual.md).
 * - efSearch: the nearest shard keeps it (its graph must find nearly all of the k); a slack shard
 *   holds only the few neighbours past the nearest shard's border, in its graph region nearest the
 *   query: efSearch / S, rounded up, at least k (HNSW at 50k x 128: +2.4% CPU over one shard,
 *   against +13.6% with the whole efSearch there, at recall 0.996 and 0.997).
 *
 * bench:router measures the rule against one shard at the whole parameters and along one shard's
 * recall-CPU curve (bench/results/router.md, router-512d.md). With one shard, or
 * `scaleSearchParams: false`, the router sends the whole parameters to every shard.
 */
export function clusterShardParams(
  whole: ShardSearchParams,
  shardCount: number,
  k: number,
): { nearest: ShardSearchParams; slack: ShardSearchParams } {
  const nprobe = whole.nprobe === undefined ? {} : { nprobe: whole.nprobe };
  return {
    nearest: { ...nprobe, efSearch: Math.max(k, whole.efSearch) },
    slack: { ...nprobe, efSearch: Math.max(k, Math.ceil(whole.efSearch / shardCount)) },
  };
}
