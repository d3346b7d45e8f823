#include "train.h"

namespace pixelfind {

namespace {

class TrainWorker : public IndexInputWorker<float> {
 public:
  TrainWorker(Napi::Env env, IndexRef handle, std::vector<float> vectors)
      : IndexInputWorker(env, "train", std::move(handle), std::move(vectors)) {}

 protected:
  void Run() override {
    faiss::Index* index = handle_->index.get();
    // An IVF index with an HNSW quantizer assigns with the index's own efSearch.
    DefaultParameters defaults(*handle_);
    index->train(static_cast<faiss::Index::idx_t>(input_.size() / index->d), input_.data());
  }
};

}  // namespace

Napi::Value QueueTrain(Napi::Env env, IndexRef handle, const Napi::Value& vectors) {
  auto worker = new TrainWorker(env, std::move(handle), CopyFloats(vectors, "vectors"));
  return worker->QueueForPromise();
}

}  // namespace pixelfind
