// Seeded vectors for tests: clustered unit vectors, reproducible across runs.

import { normalizeRows } from '../vector-math.ts';

export function rng(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x100000000;
  };
}

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
}

/** n unit vectors around `clusters` random centres. */
export function unitVectors(n: number, dimension: number, seed = 1, clusters = 16): Float32Array {
  const random = rng(seed);
  const centres = new Float32Array(clusters * dimension);
  for (let i = 0; i < centres.length; i++) centres[i] = gaussian(random);
  const out = new Float32Array(n * dimension);
  for (let r = 0; r < n; r++) {
    const c = Math.floor(random() * clusters);
    for (let j = 0; j < dimension; j++)
      out[r * dimension + j] = centres[c * dimension + j]! + 0.6 * gaussian(random);
    normalizeRows(out.subarray(r * dimension, (r + 1) * dimension), dimension);
  }
  return out;
}

export const row = (vectors: Float32Array, i: number, dimension: number) =>
  vectors.slice(i * dimension, i * dimension + dimension);

export const idRange = (from: number, n: number) =>
  BigInt64Array.from({ length: n }, (_, i) => BigInt(from + i));
