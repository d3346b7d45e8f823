#include "read.h"

#include <faiss/impl/io.h>
#include <faiss/index_io.h>

#include "common.h"
#include "index-object.h"

namespace pixelfind {

namespace {

class ReadWorker : public PromiseWorker {
 public:
  ReadWorker(Napi::Env env, std::string path) : PromiseWorker(env, "read"), path_(std::move(path)) {}
  ReadWorker(Napi::Env env, std::vector<uint8_t> bytes)
      : PromiseWorker(env, "fromBuffer"), fromBuffer_(true), bytes_(std::move(bytes)) {}

 protected:
  void Run() override {
    faiss::Index* index;
    if (fromBuffer_) {
      faiss::VectorIOReader reader;
      reader.data = std::move(bytes_);
      index = faiss::read_index(&reader);
    } else {
      index = faiss::read_index(path_.c_str());
    }
    handle_ = WrapIndex(index);
  }

  Napi::Value Result(Napi::Env env) override { return IndexObject::NewInstance(env, std::move(handle_)); }

 private:
  bool fromBuffer_ = false;
  std::string path_;
  std::vector<uint8_t> bytes_;
  IndexRef handle_;
};

}  // namespace

Napi::Value ReadFile(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "Expected string for path");
  auto worker = new ReadWorker(info.Env(), info[0].As<Napi::String>().Utf8Value());
  return worker->QueueForPromise();
}

Napi::Value ReadBuffer(const Napi::CallbackInfo& info) {
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(info.Env(), "Expected Buffer or Uint8Array for bytes");
  }
  auto array = info[0].As<Napi::Uint8Array>();
  auto worker = new ReadWorker(info.Env(), std::vector<uint8_t>(array.Data(), array.Data() + array.ElementLength()));
  return worker->QueueForPromise();
}

}  // namespace pixelfind
