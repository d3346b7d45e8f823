// Full-precision vectors memory-mapped from a file, for exact re-scoring of an ANN short list
// (the compressed main tier keeps only codes in memory; the page cache holds what is touched).
//
// File layout, little-endian (written by search-cluster/src/faiss/vector-file.ts):
//   0  "PXVECF01"   8 bytes magic
//   8  dimension    uint32
//   12 reserved     uint32 (0)
//   16 count        uint64
//   24 reserved     uint64 (0)
//   32 ids          int64[count], strictly ascending
//   .. vectors      float32[count * dimension], row i belongs to ids[i]
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>

namespace pixelfind {

struct MappedVectors {
  ~MappedVectors();
  void* base = nullptr;
  size_t length = 0;
  int64_t count = 0;
  int dimension = 0;
  const int64_t* ids = nullptr;
  const float* vectors = nullptr;

  // The row of an id, or -1.
  int64_t RowOf(int64_t id) const;
};
using MappedRef = std::shared_ptr<MappedVectors>;

class VectorFileObject : public Napi::ObjectWrap<VectorFileObject> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit VectorFileObject(const Napi::CallbackInfo& info);

  // The mapping of a NativeVectorFile passed as an argument (a TypeError for anything else, an
  // Error once it is closed).
  static MappedRef MappedOf(Napi::Env env, const Napi::Value& value, const char* name);

 private:
  MappedRef Mapped(Napi::Env env) const;
  Napi::Value Rescore(const Napi::CallbackInfo& info);
  Napi::Value ScoreCells(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetCount(const Napi::CallbackInfo& info);
  Napi::Value GetDimension(const Napi::CallbackInfo& info);

  MappedRef mapped_;
};

// openVectorFile(path): maps and checks the file; synchronous, as mapping reads nothing yet.
Napi::Value OpenVectorFile(const Napi::CallbackInfo& info);

}  // namespace pixelfind
