/** One search result: higher score is better (inner product). */
export interface Hit {
  id: bigint;
  score: number;
}

/** Orders hits best first; equal scores fall back to the smaller id so results are deterministic. */
export function compareHits(a: Hit, b: Hit): number {
  if (a.score !== b.score) return b.score - a.score;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Keeps the best hit per id and returns the top `k`, best first. Duplicates happen when an id sits
 * in two tiers during a swap, or in two shards during re-sharding.
 */
export function mergeTopK(lists: Iterable<Iterable<Hit>>, k: number): Hit[] {
  const best = new Map<bigint, number>();
  for (const list of lists) {
    for (const hit of list) {
      const seen = best.get(hit.id);
      if (seen === undefined || hit.score > seen) best.set(hit.id, hit.score);
    }
  }
  const hits: Hit[] = [];
  for (const [id, score] of best) hits.push({ id, score });
  hits.sort(compareHits);
  if (hits.length > k) hits.length = k;
  return hits;
}

/** A bounded min-heap collecting the k best (score, id) pairs of a scan. */
export class TopK {
  private readonly scores: Float64Array;
  private readonly ids: bigint[] = [];
  private size = 0;

  constructor(private readonly k: number) {
    this.scores = new Float64Array(k);
  }

  /** The score a candidate must beat to enter (−Infinity until full). */
  get threshold(): number {
    return this.size < this.k ? Number.NEGATIVE_INFINITY : this.scores[0]!;
  }

  push(id: bigint, score: number): void {
    if (this.size < this.k) {
      let i = this.size++;
      // sift up
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!this.worse(score, id, this.scores[parent]!, this.ids[parent]!)) break;
        this.scores[i] = this.scores[parent]!;
        this.ids[i] = this.ids[parent]!;
        i = parent;
      }
      this.scores[i] = score;
      this.ids[i] = id;
      return;
    }
    if (!this.worse(this.scores[0]!, this.ids[0]!, score, id)) return;
    // replace the root and sift down
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= this.size) break;
      const right = left + 1;
      let child = left;
      if (
        right < this.size &&
        this.worse(this.scores[right]!, this.ids[right]!, this.scores[left]!, this.ids[left]!)
      ) {
        child = right;
      }
      if (!this.worse(this.scores[child]!, this.ids[child]!, score, id)) break;
      this.scores[i] = this.scores[child]!;
      this.ids[i] = this.ids[child]!;
      i = child;
    }
    this.scores[i] = score;
    this.ids[i] = id;
  }

  /** Hits best first. */
  result(): Hit[] {
    const hits: Hit[] = [];
    for (let i = 0; i < this.size; i++) hits.push({ id: this.ids[i]!, score: this.scores[i]! });
    return hits.sort(compareHits);
  }

  /** Is (s1, id1) ranked below (s2, id2)? */
  private worse(s1: number, id1: bigint, s2: number, id2: bigint): boolean {
    return s1 < s2 || (s1 === s2 && id1 > id2);
  }
}

/**
 * Hits per query from a native result: `nq` rows of `k` ids and scores, id -1 padding a row that
 * found fewer (dropped here).
 */
export function hitsPerQuery(ids: BigInt64Array, scores: Float32Array, nq: number, k: number): Hit[][] {
  const results: Hit[][] = [];
  for (let q = 0; q < nq; q++) {
    const hits: Hit[] = [];
    for (let j = q * k; j < (q + 1) * k; j++) {
      const id = ids[j]!;
      if (id >= 0n) hits.push({ id, score: scores[j]! });
    }
    results.push(hits);
  }
  return results;
}
