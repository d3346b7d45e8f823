import { loadNative } from './load-native.ts';
import { assertDimension, invalidParameterError } from './options.ts';

/** The most floats of rows one call reads (the addon's bound: a synchronous call stays short). */
export const MAX_INNER_PRODUCT_FLOATS = 1 << 20;

/**
 * The inner product of the query's `dimension` floats from `offset` with every row of `rows`, in
 * row order, natively (FAISS's SIMD kernel) and synchronously: for a small matrix scored on every
 * search, such as a partition map's centroids (64 x 512 floats: some 3 us, against ~40 us in
 * JavaScript and more than either for a trip to the libuv pool). At most
 * `MAX_INNER_PRODUCT_FLOATS` floats of rows, some 100 us of the event loop.
 */
export function innerProducts(
  rows: Float32Array,
  dimension: number,
  query: Float32Array,
  offset = 0,
): Float32Array {
  assertDimension(dimension);
  if (!(rows instanceof Float32Array)) throw invalidParameterError('rows', 'Float32Array', rows);
  if (!(query instanceof Float32Array)) throw invalidParameterError('query', 'Float32Array', query);
  if (rows.length % dimension !== 0 || rows.length > MAX_INNER_PRODUCT_FLOATS) {
    throw new RangeError(
      `Expected whole rows of ${dimension} floats, at most ${MAX_INNER_PRODUCT_FLOATS} floats, but received ${rows.length}`,
    );
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + dimension > query.length) {
    throw new RangeError(`Expected offset + ${dimension} within the query's ${query.length} floats`);
  }
  return loadNative().innerProducts(rows, dimension, query, offset);
}
