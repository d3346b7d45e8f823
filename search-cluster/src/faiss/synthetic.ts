/**
 * Seeded synthetic embeddings for tests and the ANN benchmark: unit vectors around cluster
 * centres, like CLIP image embeddings, plus a shifted "text query" distribution (text embeddings
 * sit apart from image embeddings in CLIP space, in a direction shared by all texts).
 */

import { normalizeRows } from '../vector-math.ts';

/** mulberry32: a small, fast, seeded PRNG; returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples (Box-Muller). */
export function gaussian(random: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    const u = 1 - random();
    const v = random();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

export interface ClusteredOptions {
  /** Rows to generate. */
  count: number;
  dimension: number;
  /** Generating clusters (use many more than IVF lists, or IVF looks perfect). */
  clusters: number;
  seed: number;
  /** Noise around a centre relative to the centre's unit length; default 1 (overlapping clusters). */
  spread?: number;
  /** Added to every row before normalising (the text-query shift); default none. */
  shift?: Float32Array;
  /** Seed of the cluster centres, so queries can share the base set's centres; default `seed`. */
  centreSeed?: number;
  /**
   * Draw the centres themselves around this many "family" centres (a two-level structure, as
   * semantic groups of images in CLIP space), with noise `familySpread` (default 1). Default none:
   * independent random centres, nearly orthogonal in high dimension.
   */
  families?: number;
  familySpread?: number;
}

/** Unit vectors drawn around `clusters` random unit centres, each row normalised. */
export function clusteredUnitVectors(options: ClusteredOptions): Float32Array {
  const { count, dimension, clusters, seed, spread = 1, shift } = options;
  const centreSeed = options.centreSeed ?? seed;
  const centres =
    options.families === undefined
      ? normalizeRows(randomNormal(clusters * dimension, centreSeed), dimension)
      : clusteredUnitVectors({
          count: clusters,
          dimension,
          clusters: options.families,
          seed: centreSeed ^ 0x5bd1e995,
          spread: options.familySpread ?? 1,
        });
  const random = seededRandom(seed ^ 0x9e3779b9);
  const normal = gaussian(random);
  // Per-dimension noise scale so the noise norm is about `spread`.
  const noise = spread / Math.sqrt(dimension);
  const out = new Float32Array(count * dimension);
  for (let i = 0; i < count; i++) {
    const c = Math.floor(random() * clusters) * dimension;
    const row = i * dimension;
    for (let j = 0; j < dimension; j++) {
      out[row + j] = centres[c + j]! + noise * normal() + (shift ? shift[j]! : 0);
    }
  }
  return normalizeRows(out, dimension);
}

/** i.i.d. standard normal values. */
export function randomNormal(length: number, seed: number): Float32Array {
  const normal = gaussian(seededRandom(seed));
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = normal();
  return out;
}

/** A random direction of the given length: the common offset of "text" queries. */
export function shiftVector(dimension: number, length: number, seed: number): Float32Array {
  const direction = normalizeRows(randomNormal(dimension, seed), dimension);
  for (let j = 0; j < dimension; j++) direction[j]! *= length;
  return direction;
}

/** Ids 0..count-1 offset by `first` (ids are ours, so tests use non-trivial ones). */
/** bench/ann.ts's data: a clustered base, and image and text query sets around the same centres. */
export interface AnnData {
  base: Float32Array;
  querySets: { image: Float32Array; text: Float32Array };
}

/** The ANN benchmark's data set (its cluster rule, seeds and text shift), at any size. */
export function annData(options: {
  count: number;
  queries: number;
  dimension: number;
  clusters: number;
  /** Default 42, the benchmark's. */
  seed?: number;
  /** Noise around each centre; default 1. */
  spread?: number;
  /** Length of the text-query shift; default 1.5. */
  textShift?: number;
}): AnnData {
  const { count, queries, dimension, clusters, seed = 42, spread = 1, textShift = 1.5 } = options;
  const around = (set: number, shift?: Float32Array) =>
    clusteredUnitVectors({
      count: queries,
      dimension,
      clusters,
      seed: seed + set,
      centreSeed: seed,
      spread,
      shift,
    });
  return {
    base: clusteredUnitVectors({ count, dimension, clusters, seed, spread }),
    querySets: { image: around(1), text: around(2, shiftVector(dimension, textShift, seed + 3)) },
  };
}

export function sequentialIds(count: number, first = 0n): BigInt64Array {
  const ids = new BigInt64Array(count);
  for (let i = 0; i < count; i++) ids[i] = first + BigInt(i);
  return ids;
}

/** recall@k: the share of the true top-k ids found in the returned top-k, over all queries. */
export function recallAtK(
  truth: BigInt64Array,
  found: BigInt64Array,
  k: number,
  truthK = k,
  foundK = k,
): number {
  const queries = truth.length / truthK;
  let hits = 0;
  for (let q = 0; q < queries; q++) {
    const wanted = new Set<bigint>();
    for (let j = 0; j < k; j++) wanted.add(truth[q * truthK + j]!);
    for (let j = 0; j < k; j++) if (wanted.has(found[q * foundK + j]!)) hits++;
  }
  return hits / (queries * k);
}
