#pragma once

#include <napi.h>

namespace pixelfind {

// create(dimension, factory, efConstruction?): a new empty index with the inner-product metric. Synchronous:
// building an empty index allocates little (an IVF quantizer is trained later).
Napi::Value Create(const Napi::CallbackInfo& info);

}  // namespace pixelfind
