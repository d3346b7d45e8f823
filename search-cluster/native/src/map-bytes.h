#pragma once

#include <napi.h>

namespace pixelfind {

// mapBytes(path: string): ArrayBuffer
// The whole file memory-mapped read-only as an external ArrayBuffer, unmapped when the buffer is
// collected: per-row data derived from a memory-mapped tier (the filter codes) then sits in the
// page cache like the tier's rows, not on the heap. The file may be unlinked once mapped.
Napi::Value MapBytes(const Napi::CallbackInfo& info);

}  // namespace pixelfind
