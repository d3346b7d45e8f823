#include "live-rows.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace pixelfind {

namespace {

bool IsArrayOf(const Napi::Value& value, napi_typedarray_type type) {
  return value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == type;
}

}  // namespace

Napi::Value LiveRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!IsArrayOf(info[0], napi_bigint64_array)) throw Napi::TypeError::New(env, "Expected BigInt64Array for allowed");
  if (!IsArrayOf(info[1], napi_int32_array)) throw Napi::TypeError::New(env, "Expected Int32Array for rowAt");
  if (!info[2].IsBigInt()) throw Napi::TypeError::New(env, "Expected bigint for base");
  if (!IsArrayOf(info[3], napi_uint8_array)) throw Napi::TypeError::New(env, "Expected Uint8Array for dead");
  auto allowed = info[0].As<Napi::TypedArrayOf<int64_t>>();
  auto rowAt = info[1].As<Napi::Int32Array>();
  bool lossless = false;
  const int64_t base = info[2].As<Napi::BigInt>().Int64Value(&lossless);
  if (!lossless) throw Napi::RangeError::New(env, "Expected base to fit in 64 bits");
  auto dead = info[3].As<Napi::Uint8Array>();
  const int64_t span = static_cast<int64_t>(rowAt.ElementLength());
  const int64_t rows = static_cast<int64_t>(dead.ElementLength());
  const int64_t* ids = allowed.Data();
  const int32_t* at = rowAt.Data();
  const uint8_t* gone = dead.Data();
  std::vector<uint64_t> taken((rows + 63) / 64, 0);
  std::vector<int32_t> out;
  out.reserve(allowed.ElementLength());
  for (size_t i = 0; i < allowed.ElementLength(); i++) {
    // unsigned: an id below base wraps to a huge offset and fails the bound
    const uint64_t offset = static_cast<uint64_t>(ids[i]) - static_cast<uint64_t>(base);
    if (offset >= static_cast<uint64_t>(span)) continue;
    const int32_t row = at[offset];
    if (row < 0 || row >= rows || gone[row] != 0) continue;
    uint64_t& word = taken[row >> 6];
    const uint64_t bit = uint64_t{1} << (row & 63);
    if (word & bit) continue;
    word |= bit;
    out.push_back(row);
  }
  auto result = Napi::Int32Array::New(env, out.size());
  std::copy(out.begin(), out.end(), result.Data());
  return result;
}

}  // namespace pixelfind
