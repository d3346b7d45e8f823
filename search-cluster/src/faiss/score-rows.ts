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
 * Exact scoring of a tier's stored rows on the libuv pool with FAISS's SIMD kernel: by a list of
 * rows per query (scoreRows), or by a walk over cells of rows nearest the query first (scoreCells,
 * the filtered search's 'cells' path).
 */

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

/**
 * A filtered scan over a partition of a tier's rows into cells: the allowed rows, their cell per
 * tier row and the cells' unit centroids. For each query the cells holding allowed rows are visited
 * nearest first and their allowed rows scored exactly until `budget` rows were scored and
 * `minCells` cells visited (an IVF over the allowed rows alone). Natively, in one call: grouping the
 * rows, ordering the cells and the SIMD scoring.
 */
export interface CellScan {
  /** Allowed, live rows of the tier, unique (mainTier.liveRowsOf). */
  rows: Int32Array;
  /** Cell of each row of the tier (not copied: immutable while the call runs). */
  cellOfRow: Int32Array;
  /** One unit centroid per cell, concatenated (not copied). */
  centroids: Float32Array;
  budget: number;
  minCells: number;
  /** 8-bit codes of the tier's rows: rank the visited rows by them, re-score the best exactly. */
  codes?: RowCodes;
}

/**
 * A tier's rows as 8-bit codes, a byte per dimension (row-codes.ts): value ~ min + code x scale.
 * The cell scan ranks by them (a quarter of the bytes of float rows) and scores `shortList` rows
 * per query exactly.
 */
export interface RowCodes {
  bytes: Uint8Array;
  /** Per dimension. */
  scale: Float32Array;
  shortList: number;
}

/** The arguments after the row source, checked once for both sources. */
export type CellScanArgs = [
  queries: Float32Array,
  rows: Int32Array,
  cellOfRow: Int32Array,
  centroids: Float32Array,
  budget: number,
  minCells: number,
  k: number,
  codes: Uint8Array | null,
  codeScale: Float32Array | null,
  shortList: number,
];

/** Checks a scan against a source of `count` rows of `dimension`; the native call's tail arguments. */
export function cellScanArgs(
  count: number,
  dimension: number,
  queries: Float32Array,
  scan: CellScan,
  k: number,
): CellScanArgs {
  assertDimension(dimension);
  assertVectors(queries, 'queries', dimension);
  const { rows, cellOfRow, centroids, budget, minCells } = scan;
  if (!(rows instanceof Int32Array)) throw invalidParameterError('rows', 'Int32Array', rows);
  if (!(cellOfRow instanceof Int32Array)) throw invalidParameterError('cellOfRow', 'Int32Array', cellOfRow);
  if (cellOfRow.length !== count)
    throw new RangeError(`Expected one cell for each of ${count} rows but received ${cellOfRow.length}`);
  if (!(centroids instanceof Float32Array) || centroids.length % dimension !== 0)
    throw invalidParameterError('centroids', `Float32Array of ${dimension}-d rows`, centroids);
  for (const [name, value] of [
    ['budget', budget],
    ['minCells', minCells],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new RangeError(`Expected non-negative integer for ${name} but received ${value}`);
  }
  assertPositiveInteger(k, 'k', MAX_K);
  const { codes } = scan;
  if (!codes) return [queries, rows, cellOfRow, centroids, budget, minCells, k, null, null, 0];
  if (!(codes.bytes instanceof Uint8Array) || codes.bytes.length !== count * dimension)
    throw invalidParameterError('codes', `Uint8Array of ${count} rows of ${dimension}`, codes.bytes);
  if (!(codes.scale instanceof Float32Array) || codes.scale.length !== dimension)
    throw invalidParameterError('codes.scale', `Float32Array of ${dimension}`, codes.scale);
  if (!Number.isSafeInteger(codes.shortList) || codes.shortList < k)
    throw new RangeError(`Expected a short list of at least k = ${k} but received ${codes.shortList}`);
  return [
    queries,
    rows,
    cellOfRow,
    centroids,
    budget,
    minCells,
    k,
    codes.bytes,
    codes.scale,
    codes.shortList,
  ];
}

/**
 * The scan over rows held in memory (`vectors`, rows of `dimension`; not copied). The k best per
 * query come back best first, as rows of the tier in `ids`, padded with -1n / -Infinity.
 */
export function scoreCells(
  vectors: Float32Array,
  dimension: number,
  queries: Float32Array,
  scan: CellScan,
  k: number,
): Promise<SearchResult> {
  assertDimension(dimension);
  const args = cellScanArgs(assertRowStore(vectors, 'vectors', dimension), dimension, queries, scan, k);
  return loadNative().scoreCells(vectors, dimension, ...args);
}
