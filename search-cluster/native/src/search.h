#pragma once

#include "common.h"

namespace pixelfind {

// index.search(queries: Float32Array, k: number, options?: { nprobe?, efSearch?, allowedIds? })
//   : Promise<{ distances: Float32Array, ids: BigInt64Array }>
// Slots without a result hold id -1 and distance -Infinity. nprobe applies to IVF indexes and
// efSearch to HNSW (also an HNSW coarse quantizer); each is ignored by other kinds.
Napi::Value QueueSearch(Napi::Env env, IndexRef handle, const Napi::Value& queries, const Napi::Value& k,
                        const Napi::Value& options);

}  // namespace pixelfind
