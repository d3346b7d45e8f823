#pragma once

#include "common.h"
#include "vector-file.h"

namespace pixelfind {

// vectorFile.rescore(queries: Float32Array, candidates: BigInt64Array, k: number)
//   : Promise<{ distances: Float32Array, ids: BigInt64Array }>
// candidates holds the same number of ids per query (-1 and unknown ids are skipped);
// each query's k best by exact inner product come back, padded with -1 / -Infinity.
Napi::Value QueueRescore(Napi::Env env, MappedRef mapped, const Napi::Value& queries, const Napi::Value& candidates,
                         const Napi::Value& k);

}  // namespace pixelfind
