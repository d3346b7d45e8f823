#pragma once

#include "common.h"

namespace pixelfind {

// index.train(vectors: Float32Array): Promise<void>
Napi::Value QueueTrain(Napi::Env env, IndexRef handle, const Napi::Value& vectors);

}  // namespace pixelfind
