#include "add.h"

namespace pixelfind {

namespace {

class AddWorker : public PromiseWorker {
 public:
  AddWorker(Napi::Env env, IndexRef handle, std::vector<float> vectors, std::vector<int64_t> ids)
      : PromiseWorker(env, "add"), handle_(std::move(handle)), vectors_(std::move(vectors)), ids_(std::move(ids)) {}

 protected:
  void Run() override {
    faiss::Index* index = handle_->index.get();
    auto n = static_cast<faiss::Index::idx_t>(ids_.size());
    if (vectors_.size() != ids_.size() * index->d) throw std::invalid_argument("vectors and ids differ in count");
    // An IVF index with an HNSW quantizer assigns with the index's own efSearch.
    DefaultParameters defaults(*handle_);
    index->add_with_ids(n, vectors_.data(), ids_.data());
  }

 private:
  IndexRef handle_;
  std::vector<float> vectors_;
  std::vector<int64_t> ids_;
};

}  // namespace

Napi::Value QueueAdd(Napi::Env env, IndexRef handle, const Napi::Value& vectors, const Napi::Value& ids) {
  auto worker = new AddWorker(env, std::move(handle), CopyFloats(vectors, "vectors"), CopyIds(ids, "ids"));
  return worker->QueueForPromise();
}

}  // namespace pixelfind
