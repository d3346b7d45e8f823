#pragma once

#include "common.h"

namespace pixelfind {

// scoreRows(vectors: Float32Array, dimension: number, queries: Float32Array, rows: Int32Array,
//           perQuery: number, k: number): Promise<{ distances: Float32Array, ids: BigInt64Array }>
// Exact inner products of each query against its own perQuery rows of `vectors` (rows outside
// it and -1 are skipped); the k best per query come back best first as positions in the query's
// list of rows, padded with -1 / -Infinity. The in-memory row store's scan and re-score (the
// memory-mapped file has its own, vectorFile.rescore). Small calls (kInlineFloats) are scored on
// the calling thread and return a settled promise; larger ones go to the libuv pool.
Napi::Value ScoreRows(const Napi::CallbackInfo& info);

}  // namespace pixelfind
