/**
 * Vector maths shared by the API (query side) and the shards, through the barrel. One copy, so
 * that a query and an indexed vector are normalised alike.
 *
 * Normalising a zero or non-finite vector throws. It has no direction, so there is no right
 * answer: returning it unchanged or as zeros would score every image 0 (or NaN), and the search
 * would quietly return an arbitrary ranking. A fault the caller sees beats a wrong answer.
 */

/** Inner product of `dimension` floats of `a` from `aOffset` and of `b` from `bOffset`. */
export function dotAt(
  a: Float32Array,
  aOffset: number,
  b: Float32Array,
  bOffset: number,
  dimension: number,
): number {
  let sum = 0;
  for (let i = 0; i < dimension; i++) sum += a[aOffset + i]! * b[bOffset + i]!;
  return sum;
}

/** Inner product of two vectors of equal length (cosine similarity when both are unit). */
export function dot(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`dimension mismatch: ${a.length} vs ${b.length}`);
  return dotAt(a, 0, b, 0, a.length);
}

function unitScale(v: Float32Array, offset: number, dimension: number): number {
  const norm = Math.sqrt(dotAt(v, offset, v, offset, dimension));
  if (norm === 0 || !Number.isFinite(norm)) throw new Error('cannot normalise a zero or non-finite vector');
  return 1 / norm;
}

/** A unit-length copy of `v`. Throws for a zero or non-finite vector (see above). */
export function normalize(v: Float32Array): Float32Array {
  const scale = unitScale(v, 0, v.length);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! * scale;
  return out;
}

/** Scales each `dimension`-long row of `vectors` to unit length, in place; returns `vectors`. */
export function normalizeRows(vectors: Float32Array, dimension: number): Float32Array {
  for (let start = 0; start < vectors.length; start += dimension) {
    const scale = unitScale(vectors, start, dimension);
    for (let j = start; j < start + dimension; j++) vectors[j]! *= scale;
  }
  return vectors;
}
