/**
 * The relevance floor: a search answers only with images similar enough to the query to be
 * relevant, and says so when none is. Without it, a query for something the library does not
 * hold ("magenta" over a library without magenta) still gets a page of hits at similarity ~0.
 *
 * Two cuts, both on cosine similarity to the query:
 * - the model version's floor: `similarityFloorFor(modelVersion)`. The default reads the
 *   version's manifest (`similarityFloor`); the model lifecycle calibrates one per version at
 *   evaluation and the composition root can pass a policy that returns it instead.
 * - a per-query adaptive cut for text queries: hits more than the manifest's `adaptiveMargin`
 *   below the best hit are dropped (the best hit shows how well the words match anything at
 *   all; far below it is noise). Image queries skip it: the query image or its near-duplicates
 *   sit at the top, and "more like this" wants the looser neighbours too.
 * `SearchInput.minSimilarity` overrides both: that value is the only cut.
 */
import { getModelEntry, MODELS } from '../encoder/registry.ts';

export interface RelevanceRules {
  similarityFloor: number;
  adaptiveMargin: number;
}

/** The port the search service asks; `similarityFloorFor` may read a store (hence the promise). */
export interface RelevancePolicy {
  /** cosine similarity under which no hit of this model version is relevant */
  similarityFloorFor(modelVersion: string): number | Promise<number>;
  /** how far under the best hit a text query's hits may be */
  adaptiveMarginFor(modelVersion: string): number;
}

/** No cut at all: every candidate is relevant (a model without a manifest). */
export const NO_CUT: RelevanceRules = { similarityFloor: -1, adaptiveMargin: 2 };

/**
 * The default policy: the manifest of each version (`known`, e.g. the running encoder's own
 * manifest, then the shipped ones); a version with no manifest is not cut.
 */
export function manifestRelevance(known: Record<string, RelevanceRules> = {}): RelevancePolicy {
  const rulesOf = (modelVersion: string): RelevanceRules =>
    known[modelVersion] ?? (modelVersion in MODELS ? getModelEntry(modelVersion) : NO_CUT);
  return {
    similarityFloorFor: (modelVersion) => rulesOf(modelVersion).similarityFloor,
    adaptiveMarginFor: (modelVersion) => rulesOf(modelVersion).adaptiveMargin,
  };
}

export interface RelevanceCut {
  /** the similarity a hit needed */
  minSimilarity: number;
  /** where it came from: the request's minSimilarity, the version's floor, or the adaptive cut */
  source: 'request' | 'floor' | 'adaptive';
}

/**
 * The cut for one query, given the similarities of its admitted candidates (any order): the
 * request's value when given; else the floor, raised to best - margin for text queries.
 */
export function relevanceCut(input: {
  similarities: readonly number[];
  requested: number | null;
  floor: number;
  margin: number;
  adaptive: boolean;
}): RelevanceCut {
  if (input.requested !== null) return { minSimilarity: input.requested, source: 'request' };
  if (!input.adaptive || input.similarities.length === 0)
    return { minSimilarity: input.floor, source: 'floor' };
  const best = Math.max(...input.similarities);
  const adaptive = best - input.margin;
  return adaptive > input.floor
    ? { minSimilarity: adaptive, source: 'adaptive' }
    : { minSimilarity: input.floor, source: 'floor' };
}
