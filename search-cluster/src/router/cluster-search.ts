import type { ShardSearchRequest } from '../shard/shard.ts';
import { type Hit, mergeTopK } from '../shard/topk.ts';
import type { ShardAnswer } from './hedged-search.ts';
import type { PartitionMap } from './partition-map.ts';
import type { AuditOutcome, ProbeAudit } from './probe-audit.ts';
import { type ProbePlan, probePlan } from './probe-plan.ts';
import type { RouterBatchSearchResult } from './router.types.ts';
import { checkAnswers } from './shard-answers.ts';
import { clusterShardParams, type ShardSearchParams } from './shard-params.ts';

/**
 * A search over cluster-partitioned shards (issue 14, item 5): each query goes first to the shard
 * of its nearest centroid, then, in a second round, to every other shard whose best possible score
 * reaches the k-th score of what the first round found (probe-plan.ts). Queries of a batch that
 * want the same shard in a round share one request to it. A shard that fails leaves its queries
 * with fewer than k hits or a lower k-th score, so the next round widens to the remaining shards:
 * losing a shard (all its replicas) costs recall on that shard's vectors only.
 *
 * The nearest shard and the later ones get different parameters (`nearest`, `slack`; the router
 * scales them, shard-params.ts): the nearest holds most of a query's neighbours, a later shard only
 * the few past its border, which its lists nearest the query hold.
 */
export interface ProbeSearchInput {
  map: PartitionMap;
  /** What the shard of a query's nearest centroid is asked, without the queries. */
  nearest: Omit<ShardSearchRequest, 'queries'>;
  /**
   * What the shards of later rounds are asked. A query that has fewer than k hits when a round
   * ends (its nearest shard failed or holds too few vectors) asks its next shards with `nearest`.
   */
  slack: Omit<ShardSearchRequest, 'queries'>;
  /** The queries, one view each. */
  queries: readonly Float32Array[];
  k: number;
  /** Searches `requests[s]` on shard s (skipping nulls); answers in shard order. */
  fanOut: (requests: readonly (ShardSearchRequest | null)[]) => Promise<(ShardAnswer | undefined)[]>;
  /**
   * Queries to audit (probe-audit.ts): asked of every shard in round one (their nearest shard as
   * the nearest, the others as slack), so the result says what slack their top k needed.
   */
  audit?: readonly boolean[];
}

export interface ProbeSearchResult {
  results: Hit[][];
  /** Every shard answer, each round's, for the router's error rules. */
  answers: ShardAnswer[];
  /** Shards that were searched (for at least one query) and answered. */
  shardsAnswered: Set<number>;
  /** Shards searched that failed. */
  shardsFailed: Set<number>;
  /** What the audited queries needed (none audited: zeros). */
  audit: AuditOutcome;
}

export async function probeSearch(input: ProbeSearchInput): Promise<ProbeSearchResult> {
  const { map, queries, k } = input;
  const d = map.dimension;
  const shardCount = map.shardCount;
  const plans: ProbePlan[] = queries.map((q) => probePlan(map, q, 0));
  // searched[q * shardCount + s]: query q has asked shard s
  const searched = new Uint8Array(queries.length * shardCount);
  const best: Hit[][] = queries.map(() => []);
  const answers: ShardAnswer[] = [];
  const shardsAnswered = new Set<number>();
  const shardsFailed = new Set<number>();
  // round one: the nearest shard of each query, asked as the nearest (an audited query: every shard)
  let want: number[][] = plans.map((plan, q) => (input.audit?.[q] ? [...plan.order] : [plan.order[0]!]));
  // audited queries: the shard each hit came from
  const shardOfHit: (Map<bigint, number> | null)[] = queries.map((_, q) =>
    input.audit?.[q] ? new Map() : null,
  );
  let short = queries.map(() => true);
  while (want.some((shards) => shards.length > 0)) {
    const perShard: number[][] = Array.from({ length: shardCount }, () => []);
    const asNearest = new Uint8Array(shardCount);
    want.forEach((shards, q) => {
      for (const [i, s] of shards.entries()) {
        perShard[s]!.push(q);
        searched[q * shardCount + s] = 1;
        // an audited query asks its other shards as a probed shard would be asked
        if (short[q] && (i === 0 || !shardOfHit[q])) asNearest[s] = 1;
      }
    });
    const requests = perShard.map((qs, s): ShardSearchRequest | null => {
      if (qs.length === 0) return null;
      const base = asNearest[s] ? input.nearest : input.slack;
      if (qs.length === 1) return { ...base, queries: queries[qs[0]!]! };
      const packed = new Float32Array(qs.length * d);
      for (const [i, q] of qs.entries()) packed.set(queries[q]!, i * d);
      return { ...base, queries: packed };
    });
    const round = await input.fanOut(requests);
    const found: Hit[][][] = queries.map(() => []);
    round.forEach((answer, s) => {
      if (!answer) return;
      answers.push(answer);
      if (!answer.ok) {
        shardsFailed.add(s);
        return;
      }
      shardsAnswered.add(s);
      for (const [i, q] of perShard[s]!.entries()) {
        const hits = answer.results[i] ?? [];
        found[q]!.push(hits);
        for (const hit of hits) if (!shardOfHit[q]?.has(hit.id)) shardOfHit[q]?.set(hit.id, s);
      }
    });
    short = best.map((hits, q) => {
      const lists = found[q]!;
      // a shard's answer is already its top k, best first, each id once: merge only when needed
      if (hits.length === 0 && lists.length === 1) best[q] = lists[0]!.slice(0, k);
      else if (lists.length > 0) best[q] = mergeTopK([hits, ...lists], k);
      return best[q]!.length < k;
    });
    want = plans.map((plan, q) => {
      const kth = short[q] ? Number.NEGATIVE_INFINITY : best[q]![k - 1]!.score;
      // the shards still worth asking: those whose bound reaches the k-th score, in plan order
      return plan.order.filter((s) => searched[q * shardCount + s] === 0 && plan.bound[s]! >= kth);
    });
  }
  return {
    results: best,
    answers,
    shardsAnswered,
    shardsFailed,
    audit: auditOutcome(map, queries, plans, best, shardOfHit, k),
  };
}

/** For each audited query with a full top k: the slack its hits on other shards than its nearest needed. */
function auditOutcome(
  map: PartitionMap,
  queries: readonly Float32Array[],
  plans: ProbePlan[],
  best: Hit[][],
  shardOfHit: (Map<bigint, number> | null)[],
  k: number,
): AuditOutcome {
  const outcome: AuditOutcome = { audited: 0, missed: 0, slackNeeded: 0 };
  queries.forEach((query, q) => {
    const shards = shardOfHit[q];
    const hits = best[q]!;
    if (!shards || hits.length < k) return;
    outcome.audited++;
    const plan = plans[q]!;
    const kth = hits[k - 1]!.score;
    let norm = 0;
    for (const v of query) norm += v * v;
    const length = Math.sqrt(norm) || 1;
    const slackPart = length * map.slack;
    let missed = false;
    for (const hit of hits) {
      const s = shards.get(hit.id);
      if (s === undefined || s === plan.order[0]) continue;
      // bound[s] = centroid score + length x slack; the rule asks s while bound[s] >= kth
      const centroidScore = plan.bound[s]! - slackPart;
      outcome.slackNeeded = Math.max(outcome.slackNeeded, (kth - centroidScore) / length);
      if (plan.bound[s]! < kth) missed = true;
    }
    if (missed) outcome.missed++;
  });
  return outcome;
}

/**
 * The router's unfiltered search of a cluster-partitioned model version: per-shard parameters from
 * the whole ones (`clusterShardParams`; with `scale` false every shard gets the parameters the
 * query named), the probe rounds, then the router's error rules on every answer.
 */
export async function clusterSearch(input: {
  map: PartitionMap;
  /** The request without queries and search parameters. */
  request: Omit<ShardSearchRequest, 'queries' | 'nprobe' | 'efSearch'>;
  /** What the query named. */
  named: Partial<ShardSearchParams>;
  /** The whole-collection parameters when the query names none. */
  defaults: ShardSearchParams;
  scale: boolean;
  queries: readonly Float32Array[];
  k: number;
  fanOut: ProbeSearchInput['fanOut'];
  deadlineMs: number;
  signal: AbortSignal | undefined;
  /** The model version's probe audit (probe-audit.ts); none: no query is audited. */
  audit?: ProbeAudit;
}): Promise<RouterBatchSearchResult> {
  const { request, named, k } = input;
  const audit = input.audit?.pick(input.queries.length);
  const params = input.scale
    ? clusterShardParams({ ...input.defaults, ...named }, input.map.shardCount, k)
    : { nearest: named, slack: named };
  const probed = await probeSearch({
    map: input.map,
    nearest: { ...request, ...params.nearest },
    slack: { ...request, ...params.slack },
    queries: input.queries,
    k,
    fanOut: input.fanOut,
    ...(audit ? { audit } : {}),
  });
  checkAnswers(probed.answers, input.deadlineMs, input.signal);
  // a partial answer's top k is not the data's: it says nothing about the slack
  if (probed.shardsFailed.size === 0) input.audit?.record(probed.audit);
  return {
    results: probed.results,
    partial: probed.shardsFailed.size > 0,
    shardsAnswered: probed.shardsAnswered.size,
    shardsTotal: input.map.shardCount,
  };
}
