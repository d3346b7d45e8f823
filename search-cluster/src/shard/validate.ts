import { badRequest } from '../errors.ts';
import { MAX_K } from '../faiss/options.ts';

// one limit for the native index, a shard and the router's global merge
export { MAX_K };

const describe = (value: unknown) =>
  `${typeof value === 'bigint' ? `${value}n` : String(value)} of type ${typeof value}`;

export function checkK(k: unknown): number {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > MAX_K) {
    throw badRequest(`Expected integer between 1 and ${MAX_K} for k but received ${describe(k)}`);
  }
  return k;
}

export function checkOptionalPositiveInt(name: string, value: unknown, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw badRequest(`Expected integer between 1 and ${max} for ${name} but received ${describe(value)}`);
  }
  return value;
}

export function checkModelVersion(modelVersion: unknown): string {
  if (typeof modelVersion !== 'string' || modelVersion.length === 0 || modelVersion.length > 200) {
    throw badRequest(
      `Expected non-empty string of at most 200 characters for modelVersion but received ${describe(modelVersion)}`,
    );
  }
  return modelVersion;
}

/**
 * Vectors are a flat Float32Array of n rows of `dimension` values, every one finite.
 * Returns n.
 */
export function checkVectors(name: string, vectors: unknown, dimension: number): number {
  if (!(vectors instanceof Float32Array)) {
    throw badRequest(`Expected Float32Array for ${name} but received ${describe(vectors)}`);
  }
  if (vectors.length === 0 || vectors.length % dimension !== 0) {
    throw badRequest(
      `Expected ${name} to hold whole vectors of dimension ${dimension} but received ${vectors.length} values`,
    );
  }
  for (let i = 0; i < vectors.length; i++) {
    const v = vectors[i]!;
    // NaN fails both comparisons; +-Infinity fails the bound
    if (!(v > -3.4e38 && v < 3.4e38)) {
      throw badRequest(
        `Expected finite values in ${name} but found ${v} at row ${Math.floor(i / dimension)}, column ${i % dimension}`,
      );
    }
  }
  return vectors.length / dimension;
}

/** Ids are non-negative int64 (FAISS pads missing results with -1). */
export function checkIds(name: string, ids: unknown): BigInt64Array {
  if (!(ids instanceof BigInt64Array)) {
    throw badRequest(`Expected BigInt64Array for ${name} but received ${describe(ids)}`);
  }
  // the sign bit is the top bit of each id's high half: no BigInt per id
  const halves = new Uint32Array(ids.buffer, ids.byteOffset, ids.length * 2);
  for (let i = 1; i < halves.length; i += 2) {
    if (halves[i]! >= 0x80000000) {
      const at = (i - 1) / 2;
      throw badRequest(`Expected non-negative ids in ${name} but found ${ids[at]} at index ${at}`);
    }
  }
  return ids;
}

/** Coerces the ids callers commonly hold (bigint[] or BigInt64Array) to a BigInt64Array. */
export function toIdArray(name: string, ids: readonly bigint[] | BigInt64Array): BigInt64Array {
  if (ids instanceof BigInt64Array) return checkIds(name, ids);
  if (!Array.isArray(ids))
    throw badRequest(`Expected an array of bigint for ${name} but received ${describe(ids)}`);
  const out = new BigInt64Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (typeof id !== 'bigint')
      throw badRequest(`Expected bigint ids in ${name} but found ${describe(id)} at index ${i}`);
    if (id < 0n || id > 0x7fffffffffffffffn) {
      throw badRequest(`Expected ids in ${name} between 0 and 2^63-1 but found ${id} at index ${i}`);
    }
    out[i] = id;
  }
  return out;
}
