#pragma once

#include <napi.h>

namespace pixelfind {

// setThreads(n): threads per FAISS call (OpenMP) and for OpenBLAS; 0 restores the default.
Napi::Value SetThreads(const Napi::CallbackInfo& info);
Napi::Value GetThreads(const Napi::CallbackInfo& info);

}  // namespace pixelfind
