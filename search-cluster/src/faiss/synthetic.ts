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
   * semantic groups of images in CLIP space), with noise `familySpread` (default 1). A list nests
   * further: the centres around `families[0]` centres, those around `families[1]`, and so on,
   * coarsest last (groups at several scales). Default none: independent random centres, nearly
   * orthogonal in high dimension.
   */
  families?: number | readonly number[];
  familySpread?: number;
}

/** Unit vectors drawn around `clusters` random unit centres, each row normalised. */
export function clusteredUnitVectors(options: ClusteredOptions): Float32Array {
  const { count, dimension, clusters, seed, spread = 1, shift } = options;
  const centreSeed = options.centreSeed ?? seed;
  const [families, ...coarser] =
    typeof options.families === 'number' ? [options.families] : (options.families ?? []);
  const centres =
    families === undefined
      ? normalizeRows(randomNormal(clusters * dimension, centreSeed), dimension)
      : clusteredUnitVectors({
          count: clusters,
          dimension,
          clusters: families,
          seed: centreSeed ^ 0x5bd1e995,
          spread: options.familySpread ?? 1,
          ...(coarser.length > 0 ? { families: coarser, familySpread: options.familySpread ?? 1 } : {}),
        });
  const rows = unitVectorsAround(centres, dimension, seededRandom(seed ^ 0x9e3779b9), spread, shift);
  return rows(count).vectors;
}

/**
 * A stream of unit vectors around `centres` (unit rows of `dimension`): each call draws `count`
 * rows, each one centre chosen uniformly at random plus Gaussian noise of norm about `spread`
 * (and `shift`), normalised, and says which centre each row came from. One PRNG stream over all
 * calls, so the rows do not depend on how a caller batches them.
 */
export function unitVectorsAround(
  centres: Float32Array,
  dimension: number,
  random: () => number,
  spread: number,
  shift?: Float32Array,
): (count: number) => { vectors: Float32Array; centre: Uint32Array } {
  const clusters = centres.length / dimension;
  const normal = gaussian(random);
  // Per-dimension noise scale so the noise norm is about `spread`.
  const noise = spread / Math.sqrt(dimension);
  return (count) => {
    const out = new Float32Array(count * dimension);
    const centre = new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      const k = Math.floor(random() * clusters);
      centre[i] = k;
      const c = k * dimension;
      const row = i * dimension;
      for (let j = 0; j < dimension; j++) {
        out[row + j] = centres[c + j]! + noise * normal() + (shift ? shift[j]! : 0);
      }
    }
    return { vectors: normalizeRows(out, dimension), centre };
  };
}

/**
 * Centres of small groups of images around given anchors (unit rows of `dimension`, e.g. text
 * embeddings): `perAnchor` groups each, anchor-major (group g belongs to anchor
 * floor(g / perAnchor)). Group centre = cos(angle) anchor + sin(angle) u, u a random unit
 * direction orthogonal to the anchor, angle = maxAngle x U^(1 / intrinsicDimension), U uniform:
 * the count of groups within an angle a of their anchor grows as a^intrinsicDimension, as the
 * neighbours within a radius do on data of that intrinsic dimension. So an anchor's similarity to
 * the groups has a sparse upper tail (few groups close, ever more as the angle grows), which a
 * centre plus isotropic noise in high dimension lacks: there every row sits at the same angle.
 */
export function groupCentres(options: {
  anchors: Float32Array;
  dimension: number;
  perAnchor: number;
  intrinsicDimension: number;
  /** Largest angle from the anchor, radians; default pi/2 (the furthest groups orthogonal to it). */
  maxAngle?: number;
  seed: number;
}): Float32Array {
  const { anchors, dimension, perAnchor, intrinsicDimension, seed, maxAngle = Math.PI / 2 } = options;
  const random = seededRandom(seed);
  const normal = gaussian(random);
  const count = anchors.length / dimension;
  const out = new Float32Array(count * perAnchor * dimension);
  const u = new Float64Array(dimension);
  for (let a = 0; a < count; a++) {
    const base = a * dimension;
    for (let g = 0; g < perAnchor; g++) {
      const angle = maxAngle * (1 - random()) ** (1 / intrinsicDimension);
      // a random direction, its component along the anchor removed, normalised
      let along = 0;
      for (let j = 0; j < dimension; j++) {
        u[j] = normal();
        along += u[j]! * anchors[base + j]!;
      }
      let norm = 0;
      for (let j = 0; j < dimension; j++) {
        u[j]! -= along * anchors[base + j]!;
        norm += u[j]! * u[j]!;
      }
      const sin = Math.sin(angle) / Math.sqrt(norm);
      const cos = Math.cos(angle);
      const row = (a * perAnchor + g) * dimension;
      for (let j = 0; j < dimension; j++) out[row + j] = cos * anchors[base + j]! + sin * u[j]!;
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
  /** Coarser levels of centres (ClusteredOptions.families), coarsest last; default none. */
  families?: readonly number[];
}): AnnData {
  const { count, queries, dimension, clusters, seed = 42, spread = 1, textShift = 1.5 } = options;
  const levels = options.families && options.families.length > 0 ? { families: options.families } : {};
  const around = (set: number, shift?: Float32Array) =>
    clusteredUnitVectors({
      count: queries,
      dimension,
      clusters,
      seed: seed + set,
      centreSeed: seed,
      spread,
      shift,
      ...levels,
    });
  return {
    base: clusteredUnitVectors({ count, dimension, clusters, seed, spread, ...levels }),
    querySets: { image: around(1), text: around(2, shiftVector(dimension, textShift, seed + 3)) },
  };
}

/** Ids 0..count-1 offset by `first` (ids are ours, so tests use non-trivial ones). */
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
