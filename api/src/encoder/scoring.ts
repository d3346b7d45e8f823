/**
 * How a model family turns cosine similarities into probabilities, for zero-shot tags and the
 * safety concepts (the vectors themselves are compared by cosine everywhere else).
 *
 * - softmax (CLIP, MobileCLIP): the labels compete, p_i = softmax(logitScale x cos_i); the
 *   probabilities of a vocabulary sum to 1.
 * - sigmoid (SigLIP, SigLIP 2): each label on its own, p_i = sigmoid(logitScale x cos_i +
 *   logitBias), as trained with the pairwise sigmoid loss; two labels can both be near 1.
 */
import type { ModelManifest } from './manifest.ts';

export type Scoring = ModelManifest['scoring'];

/** Probability of each label given its cosine with the image. */
export function labelProbabilities(cosines: ArrayLike<number>, scoring: Scoring): Float64Array {
  const logits = Float64Array.from(cosines, (c) => scoring.logitScale * c + scoring.logitBias);
  if (scoring.kind === 'sigmoid') return logits.map((l) => 1 / (1 + Math.exp(-l)));
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/**
 * Probability that at least one of several labels applies: their sum for a softmax (the
 * labels exclude each other), 1 - prod(1 - p) for independent sigmoids. In [0, 1].
 */
export function anyOf(probabilities: readonly number[], scoring: Scoring): number {
  if (scoring.kind === 'softmax')
    return Math.min(
      1,
      probabilities.reduce((s, p) => s + p, 0),
    );
  return 1 - probabilities.reduce((rest, p) => rest * (1 - p), 1);
}
