#pragma once

#include <napi.h>

namespace pixelfind {

// innerProducts(rows: Float32Array, dimension: number, query: Float32Array, offset: number): Float32Array
// The inner product of the query's `dimension` floats from `offset` with every row of `rows`, in
// row order, with FAISS's SIMD kernel. Synchronous and bounded (kMaxInnerProductFloats floats of
// rows, some 100 us at most): it is for small matrices scored on every search, such as a
// partition map's centroids, where a trip to the libuv pool costs more than the work.
constexpr int64_t kMaxInnerProductFloats = int64_t{1} << 20;

Napi::Value InnerProducts(const Napi::CallbackInfo& info);

}  // namespace pixelfind
