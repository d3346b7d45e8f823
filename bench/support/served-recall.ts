import { FaissIndex } from '../../search-cluster/src/faiss/faiss-index.ts';

/** One exact neighbour: id and inner product. */
interface Neighbour {
  id: bigint;
  score: number;
}

/**
 * The exact top `k` of a fixed set of queries over a corpus that arrives in batches (a bench's
 * bulk load): each batch is searched exactly (a FAISS Flat index of that batch alone) and merged
 * into the running top `k`, so the corpus is never held whole.
 */
export class ExactTopK {
  private readonly best: Neighbour[][];

  constructor(
    private readonly queries: Float32Array[],
    private readonly k: number,
  ) {
    this.best = queries.map(() => []);
  }

  async addBatch(vectors: Float32Array, ids: BigInt64Array): Promise<void> {
    const dimension = this.queries[0]!.length;
    const flat = FaissIndex.create(dimension, 'Flat');
    try {
      await flat.add(vectors, ids);
      const packed = new Float32Array(this.queries.length * dimension);
      for (const [i, q] of this.queries.entries()) packed.set(q, i * dimension);
      const k = Math.min(this.k, ids.length);
      const found = await flat.search(packed, k);
      for (let q = 0; q < this.queries.length; q++) {
        const merged = this.best[q]!;
        for (let j = 0; j < k; j++) {
          const id = found.ids[q * k + j]!;
          if (id >= 0n) merged.push({ id, score: found.distances[q * k + j]! });
        }
        merged.sort((a, b) => b.score - a.score);
        merged.length = Math.min(merged.length, this.k);
      }
    } finally {
      flat.close();
    }
  }

  /** Exact neighbour ids of query `q`, best first. */
  truth(q: number): bigint[] {
    return this.best[q]!.map((n) => n.id);
  }
}

/** Share of the exact top `at` found among the first `at` served ids, over all queries. */
export function recallAt(truth: bigint[][], served: bigint[][], at: number): number {
  let found = 0;
  let wanted = 0;
  truth.forEach((exact, q) => {
    const top = new Set(exact.slice(0, at));
    wanted += top.size;
    for (const id of served[q]!.slice(0, at)) if (top.has(id)) found++;
  });
  return wanted === 0 ? Number.NaN : Math.round((found / wanted) * 1000) / 1000;
}

/** Recall of one search setting over the bench's queries. */
export interface RecallPoint {
  /** IVF lists probed per shard; null = the shards' served default. */
  nprobe: number | null;
  /** Of the exact top k, the share the served candidates hold (k = the candidates a search asks for). */
  recallAtK: number;
  /** Of the exact top `limit`, the share among the `limit` most similar served candidates (the page before re-ranking). */
  recallAtLimit: number;
  /** Mean wall ms of one search, one query at a time. */
  meanMs: number;
  /** Searches a shard missed its deadline in (their candidates are short of that shard's). */
  partial: number;
}

/**
 * Served recall: every query searched as the API searches (`search`, the cluster client), at the
 * shards' default and at each of `nprobes`, against the exact neighbours in `exact`.
 */
export async function servedRecall(
  search: (query: Float32Array, nprobe?: number) => Promise<{ hits: { id: bigint }[]; partial: boolean }>,
  queries: Float32Array[],
  exact: ExactTopK,
  k: number,
  limit: number,
  nprobes: number[],
): Promise<{ k: number; limit: number; queries: number; points: RecallPoint[] }> {
  const truth = queries.map((_, q) => exact.truth(q));
  const points: RecallPoint[] = [];
  // a pass first, not counted: the first searches after a rebuild fault the vector file in
  for (const query of queries) await search(query);
  for (const nprobe of [undefined, ...nprobes]) {
    const served: bigint[][] = [];
    let partial = 0;
    const started = performance.now();
    for (const query of queries) {
      const answer = await search(query, nprobe);
      if (answer.partial) partial++;
      served.push(answer.hits.map((h) => h.id));
    }
    const meanMs = Math.round(((performance.now() - started) / queries.length) * 100) / 100;
    points.push({
      nprobe: nprobe ?? null,
      recallAtK: recallAt(truth, served, k),
      recallAtLimit: recallAt(truth, served, limit),
      meanMs,
      partial,
    });
  }
  return { k, limit, queries: queries.length, points };
}
