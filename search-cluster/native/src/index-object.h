// The JavaScript face of one FAISS index. It has no lock of its own: the TypeScript wrapper
// (search-cluster/src/faiss/faiss-index.ts) orders writes against searches.
#pragma once

#include "common.h"

namespace pixelfind {

class IndexObject : public Napi::ObjectWrap<IndexObject> {
 public:
  static Napi::Function Define(Napi::Env env);
  // Wraps a handle made by create/read/fromBuffer in a new JavaScript object.
  static Napi::Object NewInstance(Napi::Env env, IndexRef handle);

  explicit IndexObject(const Napi::CallbackInfo& info);

 private:
  IndexRef Handle(Napi::Env env) const;

  Napi::Value Train(const Napi::CallbackInfo& info);
  Napi::Value Add(const Napi::CallbackInfo& info);
  Napi::Value Remove(const Napi::CallbackInfo& info);
  Napi::Value Search(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value ToBuffer(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetDimension(const Napi::CallbackInfo& info);
  Napi::Value GetCount(const Napi::CallbackInfo& info);
  Napi::Value GetIsTrained(const Napi::CallbackInfo& info);
  Napi::Value GetMemoryBytes(const Napi::CallbackInfo& info);
  Napi::Value GetKind(const Napi::CallbackInfo& info);

  IndexRef handle_;
};

}  // namespace pixelfind
