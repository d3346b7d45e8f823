#include "write.h"

#include <faiss/impl/io.h>
#include <faiss/index_io.h>

namespace pixelfind {

namespace {

class WriteFileWorker : public PromiseWorker {
 public:
  WriteFileWorker(Napi::Env env, IndexRef handle, std::string path)
      : PromiseWorker(env, "write"), handle_(std::move(handle)), path_(std::move(path)) {}

 protected:
  void Run() override {
    // The saved efSearch is the index's own, whatever searches asked for lately.
    DefaultParameters defaults(*handle_);
    faiss::write_index(handle_->index.get(), path_.c_str());
  }

 private:
  IndexRef handle_;
  std::string path_;
};

class WriteBufferWorker : public PromiseWorker {
 public:
  WriteBufferWorker(Napi::Env env, IndexRef handle) : PromiseWorker(env, "toBuffer"), handle_(std::move(handle)) {}

 protected:
  void Run() override {
    DefaultParameters defaults(*handle_);
    writer_ = std::make_unique<faiss::VectorIOWriter>();
    faiss::write_index(handle_->index.get(), writer_.get());
  }

  Napi::Value Result(Napi::Env env) override {
    // Hand the bytes to the Buffer without a copy; its finalizer frees them.
    auto bytes = new std::vector<uint8_t>(std::move(writer_->data));
    return Napi::Buffer<uint8_t>::New(env, bytes->data(), bytes->size(),
                                      [](Napi::Env, uint8_t*, std::vector<uint8_t>* owned) { delete owned; },
                                      bytes);
  }

 private:
  IndexRef handle_;
  std::unique_ptr<faiss::VectorIOWriter> writer_;
};

}  // namespace

Napi::Value QueueWriteFile(Napi::Env env, IndexRef handle, const Napi::Value& path) {
  if (!path.IsString()) throw Napi::TypeError::New(env, "Expected string for path");
  auto worker = new WriteFileWorker(env, std::move(handle), path.As<Napi::String>());
  return worker->QueueForPromise();
}

Napi::Value QueueWriteBuffer(Napi::Env env, IndexRef handle) {
  auto worker = new WriteBufferWorker(env, std::move(handle));
  return worker->QueueForPromise();
}

}  // namespace pixelfind
