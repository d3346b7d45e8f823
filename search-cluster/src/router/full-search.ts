import type { ShardSearchRequest } from '../shard/shard.ts';
import { type Hit, mergeTopK } from '../shard/topk.ts';
import type { ShardAnswer } from './hedged-search.ts';
import type { RouterBatchSearchResult } from './router.types.ts';
import { checkAnswers } from './shard-answers.ts';

/**
 * A search asked of every shard at once (hash partitioning, or any filtered search): `requests[s]`
 * to shard s (null: nothing to ask, e.g. a filter that leaves it no ids), the answers merged into
 * one top k per query under the router's error rules (shard-answers.ts).
 */
export async function fullSearch(input: {
  requests: readonly (ShardSearchRequest | null)[];
  queries: readonly Float32Array[];
  k: number;
  fanOut: (requests: readonly (ShardSearchRequest | null)[]) => Promise<(ShardAnswer | undefined)[]>;
  deadlineMs: number;
  signal: AbortSignal | undefined;
}): Promise<RouterBatchSearchResult> {
  const { queries, k } = input;
  const answers = await input.fanOut(input.requests);
  const empty = queries.map((): Hit[] => []);
  const answered = checkAnswers(
    answers.map((a) => a ?? { ok: true, results: empty }),
    input.deadlineMs,
    input.signal,
  );
  const results = queries.map((_, q) =>
    mergeTopK(
      answered.map((a) => a.results[q] ?? []),
      k,
    ),
  );
  const failed = answers.filter((a) => a && !a.ok).length;
  return {
    results,
    partial: failed > 0,
    shardsAnswered: input.requests.length - failed,
    shardsTotal: input.requests.length,
  };
}
