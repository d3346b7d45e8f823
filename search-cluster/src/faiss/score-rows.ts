import type { SearchResult } from './faiss-index.ts';
import { loadNative, type ScoreRowsArgs } from './load-native.ts';
import {
  assertDimension,
  assertPositiveInteger,
  assertRowStore,
  assertVectors,
  invalidParameterError,
  MAX_K,
} from './options.ts';

/**
 * Exact inner products of each query against its own `perQuery` rows of `vectors` (rows of
 * `dimension` floats held in memory, not copied: they must not change while the call runs; rows
 * outside it and -1 are skipped), on the libuv pool with FAISS's SIMD kernel. The k best per query
 * come back best first, as positions in that query's list (`ids`), padded with -1n / -Infinity.
 */
export function scoreRows(
  ...[vectors, dimension, queries, rows, perQuery, k]: ScoreRowsArgs
): Promise<SearchResult> {
  assertDimension(dimension);
  assertRowStore(vectors, 'vectors', dimension);
  const nq = assertVectors(queries, 'queries', dimension);
  if (!(rows instanceof Int32Array)) throw invalidParameterError('rows', 'Int32Array', rows);
  if (!Number.isInteger(perQuery) || perQuery < 0 || rows.length !== nq * perQuery)
    throw new RangeError(
      `Expected ${nq} x perQuery rows but received ${rows.length} for perQuery ${perQuery}`,
    );
  assertPositiveInteger(k, 'k', MAX_K);
  return loadNative().scoreRows(vectors, dimension, queries, rows, perQuery, k);
}
