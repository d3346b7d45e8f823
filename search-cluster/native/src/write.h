#pragma once

#include "common.h"

namespace pixelfind {

// index.write(path: string): Promise<void>, in FAISS's own file format.
Napi::Value QueueWriteFile(Napi::Env env, IndexRef handle, const Napi::Value& path);

// index.toBuffer(): Promise<Buffer>, the same bytes as write().
Napi::Value QueueWriteBuffer(Napi::Env env, IndexRef handle);

}  // namespace pixelfind
