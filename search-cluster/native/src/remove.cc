#include "remove.h"

#include <faiss/impl/IDSelector.h>

namespace pixelfind {

namespace {

class RemoveWorker : public IndexInputWorker<int64_t> {
 public:
  RemoveWorker(Napi::Env env, IndexRef handle, std::vector<int64_t> ids)
      : IndexInputWorker(env, "remove", std::move(handle), std::move(ids)) {}

 protected:
  void Run() override {
    faiss::IDSelectorBatch selector(input_.size(), input_.data());
    removed_ = handle_->index->remove_ids(selector);
  }

  Napi::Value Result(Napi::Env env) override { return Napi::Number::New(env, static_cast<double>(removed_)); }

 private:
  size_t removed_ = 0;
};

}  // namespace

Napi::Value QueueRemove(Napi::Env env, IndexRef handle, const Napi::Value& ids) {
  auto worker = new RemoveWorker(env, std::move(handle), CopyIds(ids, "ids"));
  return worker->QueueForPromise();
}

}  // namespace pixelfind
