#pragma once

#include "common.h"
#include "vector-file.h"

namespace pixelfind {

// vectorFile.rescore(queries: Float32Array, candidates: BigInt64Array, k: number)
//   : Promise<{ distances: Float32Array, ids: BigInt64Array }>
// candidates holds the same number of ids per query (-1 and unknown ids are skipped);
// each query's k best by exact inner product come back, padded with -1 / -Infinity.
// The loop of rescore(), for a caller already on a pool thread (search.cc re-scores its own short
// list with it): n queries of the file's dimension, perQuery candidate ids each; fills k distances
// and ids per query.
void RescoreInto(const MappedVectors& mapped, const float* queries, int64_t n, const int64_t* candidates,
                 int64_t perQuery, int64_t k, float* distances, int64_t* ids);

Napi::Value QueueRescore(Napi::Env env, MappedRef mapped, const Napi::Value& queries, const Napi::Value& candidates,
                         const Napi::Value& k);

}  // namespace pixelfind
