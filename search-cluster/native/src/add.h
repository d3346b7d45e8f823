#pragma once

#include "common.h"

namespace pixelfind {

// index.add(vectors: Float32Array, ids: BigInt64Array): Promise<void>
Napi::Value QueueAdd(Napi::Env env, IndexRef handle, const Napi::Value& vectors, const Napi::Value& ids);

}  // namespace pixelfind
