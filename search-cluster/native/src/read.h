#pragma once

#include <napi.h>

namespace pixelfind {

// read(path: string): Promise<NativeIndex>
Napi::Value ReadFile(const Napi::CallbackInfo& info);

// fromBuffer(bytes: Uint8Array): Promise<NativeIndex>; the bytes are copied first.
Napi::Value ReadBuffer(const Napi::CallbackInfo& info);

}  // namespace pixelfind
