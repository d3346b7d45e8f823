#pragma once

#include <napi.h>

namespace pixelfind {

// liveRows(allowed: BigInt64Array, rowAt: Int32Array, base: bigint, dead: Uint8Array): Int32Array
// The rows of the allowed ids in a tier whose ids fill a dense range: id's row is rowAt[id - base]
// (-1: no row); rows marked 1 in `dead` (one byte per row) and repeats are dropped, and the rows
// come in the order their ids were given. Synchronous: it is a few nanoseconds an id, less than
// a trip to the libuv pool.
Napi::Value LiveRows(const Napi::CallbackInfo& info);

}  // namespace pixelfind
