#include "inner-products.h"

#include <faiss/utils/distances.h>

#include <cstdint>

namespace pixelfind {

Napi::Value InnerProducts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto isFloats = [](const Napi::Value& value) {
    return value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array;
  };
  if (!isFloats(info[0])) throw Napi::TypeError::New(env, "Expected Float32Array for rows");
  if (!info[1].IsNumber()) throw Napi::TypeError::New(env, "Expected a number for dimension");
  if (!isFloats(info[2])) throw Napi::TypeError::New(env, "Expected Float32Array for query");
  if (!info[3].IsNumber()) throw Napi::TypeError::New(env, "Expected a number for offset");
  auto rows = info[0].As<Napi::Float32Array>();
  auto query = info[2].As<Napi::Float32Array>();
  const int64_t d = info[1].As<Napi::Number>().Int64Value();
  const int64_t offset = info[3].As<Napi::Number>().Int64Value();
  const int64_t floats = static_cast<int64_t>(rows.ElementLength());
  if (d <= 0 || floats % d != 0) throw Napi::RangeError::New(env, "Expected rows to hold whole rows of dimension floats");
  if (floats > kMaxInnerProductFloats) throw Napi::RangeError::New(env, "Expected at most 1,048,576 floats of rows");
  if (offset < 0 || offset + d > static_cast<int64_t>(query.ElementLength()))
    throw Napi::RangeError::New(env, "Expected offset + dimension within the query array");
  const int64_t count = floats / d;
  auto out = Napi::Float32Array::New(env, static_cast<size_t>(count));
  faiss::fvec_inner_products_ny(out.Data(), query.Data() + offset, rows.Data(), static_cast<size_t>(d),
                                static_cast<size_t>(count));
  return out;
}

}  // namespace pixelfind
