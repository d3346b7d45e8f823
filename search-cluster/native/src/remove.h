#pragma once

#include "common.h"

namespace pixelfind {

// index.remove(ids: BigInt64Array): Promise<number>, the number of vectors removed.
Napi::Value QueueRemove(Napi::Env env, IndexRef handle, const Napi::Value& ids);

}  // namespace pixelfind
