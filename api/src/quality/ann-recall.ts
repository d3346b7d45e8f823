import type { VectorSearcher } from '../search/search.ports.ts';
import { exactTopK } from './exact-search.ts';
import type { VersionVectors } from './quality.repository.ts';

/** Scores this close count as a tie (float32 sums in another order differ by about 1e-7). */
const TIE_EPSILON = 1e-5;

export interface AnnRecallInput {
  /** The live index of the version (the shard router through the cluster client). */
  searcher: VectorSearcher;
  /** The version's own vectors of record (QualityRepository.liveVectors). */
  vectors: VersionVectors;
  /** Text queries encoded by this version's model. */
  textQueries: readonly Float32Array[];
  /** Image queries encoded by this version's model (stored vectors of library images do). */
  imageQueries: readonly Float32Array[];
  /** Default 10. */
  k?: number;
}

export interface AnnRecall {
  /** Mean recall@k of the live index over the text queries; null when there were none. */
  text: number | null;
  /** The same over image queries. */
  image: number | null;
  textQueries: number;
  imageQueries: number;
  /** Queries whose answer was partial (a shard missed its deadline): they count as measured. */
  partialAnswers: number;
  k: number;
}

/**
 * ANN health: recall@k of a version's live index against an exact search of its own vectors,
 * text and image queries apart (their vectors sit in different regions of a CLIP space, and an
 * index can serve one well and the other badly). Recall of one query = |ANN top k ∩ exact top k|
 * / |exact top k|, where a hit tied with the exact k-th score counts as found (identical images
 * have identical vectors, and which of them fills the last places is arbitrary); a library
 * smaller than k compares against all of it.
 */
export async function measureAnnRecall(input: AnnRecallInput): Promise<AnnRecall> {
  const k = input.k ?? 10;
  let partialAnswers = 0;
  const recallOf = async (queries: readonly Float32Array[]): Promise<number | null> => {
    if (queries.length === 0 || input.vectors.ids.length === 0) return null;
    const exact = await exactTopK(input.vectors, queries, k);
    let sum = 0;
    for (const [i, query] of queries.entries()) {
      const truth = new Set(exact[i]!.map((h) => h.id));
      // ties: a hit scoring as high as the exact k-th is as right as the id the exact search kept
      const kth = exact[i]!.at(-1)?.score ?? Number.POSITIVE_INFINITY;
      const answer = await input.searcher.search(input.vectors.modelVersion, query, k);
      if (answer.partial) partialAnswers += 1;
      let found = 0;
      for (const hit of answer.hits.slice(0, k)) {
        if (truth.has(hit.id) || hit.score >= kth - TIE_EPSILON) found += 1;
      }
      sum += truth.size === 0 ? 1 : found / truth.size;
    }
    return sum / queries.length;
  };
  const text = await recallOf(input.textQueries);
  const image = await recallOf(input.imageQueries);
  return {
    text,
    image,
    textQueries: input.textQueries.length,
    imageQueries: input.imageQueries.length,
    partialAnswers,
    k,
  };
}

/** Up to `n` stored vectors spread evenly over the set, as image queries. */
export function sampleImageQueries(set: VersionVectors, n: number): Float32Array[] {
  const count = set.ids.length;
  if (count === 0 || n <= 0) return [];
  const step = Math.max(1, Math.floor(count / n));
  const out: Float32Array[] = [];
  for (let row = 0; row < count && out.length < n; row += step) {
    out.push(set.vectors.slice(row * set.dimension, (row + 1) * set.dimension));
  }
  return out;
}
