#pragma once

#include "common.h"
#include "vector-file.h"

namespace pixelfind {

// scoreCells(vectors: Float32Array, dimension: number, queries: Float32Array, rows: Int32Array,
//            cellOfRow: Int32Array, centroids: Float32Array, budget: number, minCells: number,
//            k: number, codes?: Uint8Array | null, codeScale?: Float32Array, shortList?: number):
//            Promise<{ distances: Float32Array, ids: BigInt64Array }>
// A filtered scan over a partition of the tier's rows into cells (an IVF over the allowed rows):
// `rows` (the allowed, live rows of the tier; unique) are grouped by their cell in `cellOfRow`
// (one cell per row of `vectors`), and for each query the cells holding any are visited nearest
// first (highest inner product of the query with the cell's row of `centroids`), every allowed row
// of a visited cell scored exactly, until at least `budget` rows were scored and `minCells` cells
// visited. The k best per query come back best first as rows of the tier (ids), padded with
// -1 / -Infinity. With `codes` (8-bit codes of the rows, a byte per dimension, x ~ min + code x
// codeScale), a query's visited rows are ranked by their codes first and only its `shortList` best
// scored exactly: a quarter of the bytes read per row. `vectors`, `cellOfRow`, `centroids` and
// `codes` are not copied: they must not change while the call runs (a tier's are immutable).
Napi::Value ScoreCells(const Napi::CallbackInfo& info);

// vectorFile.scoreCells(queries, rows, cellOfRow, centroids, budget, minCells, k): the same over
// the rows of a memory-mapped vector file (row i = the file's i-th id).
Napi::Value QueueScoreCells(const Napi::CallbackInfo& info, MappedRef mapped);

}  // namespace pixelfind
