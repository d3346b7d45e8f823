import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { labelProbabilities, type Scoring } from './scoring.ts';

export const ZERO_SHOT_SOURCE = 'clip-zero-shot' as const;

export interface Tag {
  label: string;
  /** probability in [0,1]: softmax over the vocabulary (CLIP) or sigmoid per label (SigLIP) */
  confidence: number;
  source: typeof ZERO_SHOT_SOURCE;
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** Reads a label vocabulary: one label per line, blank lines and `#` comments skipped. */
export async function readLabels(file: string): Promise<string[]> {
  const absolute = path.isAbsolute(file) ? file : path.join(here, file);
  const text = await readFile(absolute, 'utf8');
  const labels = [
    ...new Set(
      text
        .split('\n')
        .map((line) => line.replace(/#.*/, '').trim())
        .filter(Boolean),
    ),
  ];
  if (labels.length === 0) throw new Error(`Label vocabulary ${absolute} is empty`);
  return labels;
}

/** `a photo of {}` + `dog` -> `a photo of dog` */
export const prompt = (template: string, label: string) => template.replaceAll('{}', label);

/**
 * Zero-shot classification with the model family's scoring (scoring.ts): softmax over the
 * vocabulary of logitScale x cosine(image, label prompt) for CLIP, a sigmoid per label with
 * SigLIP's bias. The label embeddings are computed once, when the classifier is made.
 */
export class ZeroShotClassifier {
  readonly dimension: number;

  constructor(
    readonly labels: readonly string[],
    /** L2-normalised text embeddings, one per label */
    private readonly embeddings: readonly Float32Array[],
    readonly scoring: Scoring,
  ) {
    if (labels.length !== embeddings.length || labels.length === 0) {
      throw new Error(
        `Expected one embedding per label, got ${embeddings.length} for ${labels.length} labels`,
      );
    }
    this.dimension = embeddings[0]!.length;
  }

  /** Probability of every label, in vocabulary order. */
  probabilities(embedding: Float32Array): Float64Array {
    if (embedding.length !== this.dimension) {
      throw new Error(
        `Expected an embedding of dimension ${this.dimension} but received ${embedding.length}`,
      );
    }
    const norm = Math.hypot(...embedding) || 1;
    const cosines = this.embeddings.map((e) => {
      let dot = 0;
      for (let i = 0; i < e.length; i++) dot += e[i]! * embedding[i]!;
      return dot / norm;
    });
    return labelProbabilities(cosines, this.scoring);
  }

  /** Labels whose probability reaches `threshold`, most probable first, at most `limit`. */
  tags(embedding: Float32Array, threshold: number, limit: number): Tag[] {
    const p = this.probabilities(embedding);
    return this.labels
      .map((label, i) => ({ label, confidence: p[i]!, source: ZERO_SHOT_SOURCE }))
      .filter((t) => t.confidence >= threshold)
      .sort((a, b) => b.confidence - a.confidence)
      .slice(0, limit);
  }
}
