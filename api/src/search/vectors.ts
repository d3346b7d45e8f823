import { normalize } from '../../../search-cluster/src/index.ts';

/** Fusion and byte helpers for the query side; vector maths is search-cluster's vector-math.ts. */

/** Early fusion: alpha * text + (1 - alpha) * image over unit vectors, renormalised. */
export function fuseEarly(text: Float32Array, image: Float32Array, alpha: number): Float32Array {
  if (text.length !== image.length) throw new Error(`dimension mismatch: ${text.length} vs ${image.length}`);
  const mixed = new Float32Array(text.length);
  for (let i = 0; i < text.length; i++) mixed[i] = alpha * text[i]! + (1 - alpha) * image[i]!;
  return normalize(mixed);
}

export interface ScoredId {
  id: bigint;
  score: number;
}

/**
 * Late fusion: alpha * s_text + (1 - alpha) * s_image. A candidate missing from one list
 * gets that list's lowest score: it ranked below everything the list returned.
 */
export function fuseLate(textHits: ScoredId[], imageHits: ScoredId[], alpha: number): ScoredId[] {
  const floor = (hits: ScoredId[]) => (hits.length ? Math.min(...hits.map((h) => h.score)) : 0);
  const textFloor = floor(textHits);
  const imageFloor = floor(imageHits);
  const text = new Map(textHits.map((h) => [h.id, h.score]));
  const image = new Map(imageHits.map((h) => [h.id, h.score]));
  const ids = new Set([...text.keys(), ...image.keys()]);
  return [...ids]
    .map((id) => ({
      id,
      score: alpha * (text.get(id) ?? textFloor) + (1 - alpha) * (image.get(id) ?? imageFloor),
    }))
    .sort((a, b) => b.score - a.score);
}

export const vectorToBuffer = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

export function bufferToVector(b: Buffer | Uint8Array): Float32Array {
  if (b.byteLength % 4 !== 0)
    throw new Error(`a float32 vector has a multiple of 4 bytes, not ${b.byteLength}`);
  // copy: the source may not be 4-byte aligned
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return new Float32Array(copy.buffer);
}
