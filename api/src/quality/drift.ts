import { Gauge, Histogram, type Registry } from 'prom-client';
import type { CanaryRepository } from './canary.repository.ts';

/**
 * Vectors a drift mean reads at most, for the reference and for the window: the mean of 20,000
 * unit vectors is within ~0.01 of the population's per unit of spread, far below the shift an
 * alert watches, and the read stays bounded at any corpus size or upload rate.
 */
export const DRIFT_SAMPLE = 20_000;

/** The mean of some vectors (null for none). */
function meanOf(vectors: readonly { vector: Float32Array }[]): { mean: Float32Array | null; n: number } {
  let sum: Float64Array | null = null;
  let n = 0;
  for (const { vector } of vectors) {
    sum ??= new Float64Array(vector.length);
    if (vector.length !== sum.length) continue;
    for (let i = 0; i < vector.length; i++) sum[i]! += vector[i]!;
    n++;
  }
  if (!sum || n === 0) return { mean: null, n: 0 };
  return { mean: Float32Array.from(sum, (v) => v / n), n };
}

/** 1 - cosine of two mean embeddings: 0 when new uploads sit where the reference did. */
export function meanShift(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  if (na === 0 || nb === 0) return 0;
  return 1 - dot / Math.sqrt(na * nb);
}

export interface DriftMeasurement {
  modelVersion: string;
  /** 1 - cos(mean of the window's uploads, mean of the reference); null without uploads in the window. */
  shift: number | null;
  windowVectors: number;
  referenceVectors: number;
  referenceResetAt: string;
}

/**
 * Drift per model version: the top-1 similarity of every search (a histogram; falling scores mean
 * queries find less), and the shift of the mean embedding of new uploads against a reference (the
 * version's corpus when the reference was last reset: at promotion, or at the first measurement).
 */
export function createDrift(deps: { quality: CanaryRepository; registry: Registry; windowHours: number }) {
  const { quality, windowHours } = deps;
  const topSimilarity = new Histogram({
    name: 'pixelfind_drift_top1_similarity',
    help: 'Similarity of the best admitted candidate of each search, by model version and query kind (text, image, both).',
    labelNames: ['model_version', 'query_kind'] as const,
    buckets: [0.1, 0.15, 0.2, 0.22, 0.24, 0.26, 0.28, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95],
    registers: [deps.registry],
  });
  const shift = new Gauge({
    name: 'pixelfind_drift_embedding_shift',
    help: "1 - cosine between the mean embedding of the drift window's uploads and the reference's, by model version.",
    labelNames: ['model_version'] as const,
    registers: [deps.registry],
  });
  const windowVectors = new Gauge({
    name: 'pixelfind_drift_window_vectors',
    help: 'Embeddings of the drift window (DRIFT_WINDOW_HOURS) its mean was taken over (the newest 20,000 at most), by model version.',
    labelNames: ['model_version'] as const,
    registers: [deps.registry],
  });

  async function resetDriftReference(modelVersion: string): Promise<{ vectors: number }> {
    const { mean, n } = meanOf(await quality.sampleEmbeddings(modelVersion, DRIFT_SAMPLE));
    await quality.setDriftReference(modelVersion, mean, n);
    shift.remove({ model_version: modelVersion });
    return { vectors: n };
  }

  return {
    observeTopSimilarity(modelVersion: string, queryKind: 'text' | 'image' | 'both', similarity: number) {
      topSimilarity.observe({ model_version: modelVersion, query_kind: queryKind }, similarity);
    },
    /**
     * Makes the version's present corpus the reference new uploads are compared with. A
     * measurement calls it for a version without a reference, and for one promoted since its
     * reference was taken (`index_versions.promoted_at`, whichever process promoted).
     */
    resetDriftReference,
    /** One measurement of a model version (the drift job runs it for every version served). */
    async measure(modelVersion: string): Promise<DriftMeasurement> {
      let reference = await quality.driftReference(modelVersion);
      if (!reference) {
        await resetDriftReference(modelVersion);
        reference = await quality.driftReference(modelVersion);
      }
      const window = meanOf(await quality.recentEmbeddings(modelVersion, windowHours, DRIFT_SAMPLE));
      windowVectors.set({ model_version: modelVersion }, window.n);
      const value = window.mean && reference?.mean ? meanShift(window.mean, reference.mean) : null;
      if (value === null) shift.remove({ model_version: modelVersion });
      else shift.set({ model_version: modelVersion }, value);
      return {
        modelVersion,
        shift: value,
        windowVectors: window.n,
        referenceVectors: reference?.vectors ?? 0,
        referenceResetAt: (reference?.resetAt ?? new Date()).toISOString(),
      };
    },
  };
}
export type Drift = ReturnType<typeof createDrift>;
