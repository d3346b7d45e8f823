import type { Encoder } from '../encoder/index.ts';
import { labelsFileOf } from '../encoder/registry.ts';
import { readLabels } from '../encoder/zero-shot.ts';
import { measureAnnRecall, sampleImageQueries } from '../quality/ann-recall.ts';
import { ndcgAtK, recallAtK } from '../quality/golden-metrics.ts';
import type { QualityRepository } from '../quality/quality.repository.ts';
import type { VectorSearcher } from '../search/search.ports.ts';
import type { SearchRepository } from '../search/search.repository.ts';
import type { GoldenQueriesRepository } from './golden-queries.repository.ts';
import type { StoredEvaluation } from './index-versions.repository.ts';

const K = 10;

export interface EvaluationDeps {
  quality: QualityRepository;
  golden: GoldenQueriesRepository;
  /** A library image's stored vector (image golden queries). */
  search: Pick<SearchRepository, 'embeddingOf'>;
  searcher: VectorSearcher;
  /** Mined queries (searched and clicked) taken from the search log. Default 200. */
  minedLimit?: number;
  /** Stored vectors used as image queries for ANN recall. Default 50. */
  imageQueries?: number;
}

/** The golden set as one version sees it: each query encoded by its model. */
interface GoldenCase {
  kind: 'curated-text' | 'curated-image' | 'mined';
  label: string;
  vector: Float32Array;
  relevant: Set<string>;
  /** An image query never counts itself. */
  exclude: string | null;
}

async function goldenCases(deps: EvaluationDeps, modelVersion: string, encoder: Encoder) {
  const cases: GoldenCase[] = [];
  let skipped = 0;
  for (const q of await deps.golden.list()) {
    if (q.text !== null) {
      cases.push({
        kind: 'curated-text',
        label: q.text,
        vector: await encoder.encodeText(q.text),
        relevant: new Set(q.relevantIds),
        exclude: null,
      });
    } else if (q.imageId !== null) {
      const vector = await deps.search.embeddingOf(q.imageId, modelVersion);
      if (!vector) {
        skipped += 1; // the image is gone or not (yet) embedded by this version
        continue;
      }
      cases.push({
        kind: 'curated-image',
        label: `image:${q.imageId}`,
        vector,
        relevant: new Set(q.relevantIds),
        exclude: q.imageId,
      });
    }
  }
  for (const m of await deps.quality.minedQueries(deps.minedLimit ?? 200)) {
    const vector = await encoder.encodeText(m.text).catch(() => null);
    if (!vector) {
      skipped += 1;
      continue;
    }
    cases.push({ kind: 'mined', label: m.text, vector, relevant: new Set(m.relevantIds), exclude: null });
  }
  return { cases, skipped };
}

/**
 * Golden recall@10 and nDCG@10 of one version (each query encoded by its model, searched in its
 * index), and the similarity floor calibrated on it: just under the lowest similarity at which
 * a relevant image still made a top 10 (null without golden data).
 */
export async function evaluateGolden(deps: EvaluationDeps, modelVersion: string, encoder: Encoder) {
  const { cases, skipped } = await goldenCases(deps, modelVersion, encoder);
  const perQuery: { kind: string; query: string; recallAt10: number; ndcgAt10: number }[] = [];
  const relevantScores: number[] = [];
  for (const c of cases) {
    const { hits } = await deps.searcher.search(modelVersion, c.vector, K + 1);
    const ranked = hits.filter((h) => h.id.toString() !== c.exclude).slice(0, K);
    const ids = ranked.map((h) => h.id.toString());
    for (const h of ranked) if (c.relevant.has(h.id.toString())) relevantScores.push(h.score);
    perQuery.push({
      kind: c.kind,
      query: c.label,
      recallAt10: recallAtK(ids, c.relevant, K),
      ndcgAt10: ndcgAtK(ids, c.relevant, K),
    });
  }
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  const floor = relevantScores.length ? Math.max(0, Math.min(...relevantScores) - 0.02) : null;
  return {
    goldenQueries: cases.length,
    goldenRecallAt10: mean(perQuery.map((q) => q.recallAt10)),
    ndcgAt10: mean(perQuery.map((q) => q.ndcgAt10)),
    similarityFloor: floor,
    perQuery,
    skipped,
    texts: cases.filter((c) => c.kind !== 'curated-image').map((c) => c.vector),
  };
}

/** The whole evaluation stored with a version: golden numbers, ANN health, the floor. */
export async function evaluateVersion(
  deps: EvaluationDeps,
  modelVersion: string,
  encoder: Encoder,
): Promise<StoredEvaluation> {
  const golden = await evaluateGolden(deps, modelVersion, encoder);
  const vectors = await deps.quality.liveVectors(modelVersion);
  // text queries: the golden texts plus the model's own label vocabulary (always available)
  const labels = await readLabels(labelsFileOf(encoder.entry, encoder.info.dir)).catch(() => [] as string[]);
  const labelVectors = labels.length ? await encoder.encodeTexts(labels.slice(0, 50)) : [];
  const ann = await measureAnnRecall({
    searcher: deps.searcher,
    vectors,
    textQueries: [...golden.texts, ...labelVectors],
    imageQueries: sampleImageQueries(vectors, deps.imageQueries ?? 50),
    k: K,
  });
  return {
    goldenRecallAt10: golden.goldenRecallAt10,
    ndcgAt10: golden.ndcgAt10,
    annRecallText: ann.text,
    annRecallImage: ann.image,
    goldenQueries: golden.goldenQueries,
    similarityFloor: golden.similarityFloor,
    detail: {
      k: K,
      vectors: vectors.ids.length,
      golden: { perQuery: golden.perQuery, skipped: golden.skipped },
      ann: {
        textQueries: ann.textQueries,
        imageQueries: ann.imageQueries,
        partialAnswers: ann.partialAnswers,
      },
    },
    evaluatedAt: new Date(),
  };
}
