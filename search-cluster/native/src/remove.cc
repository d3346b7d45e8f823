#include "remove.h"

#include <faiss/IndexIVFFastScan.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/pq4_fast_scan.h>
#include <faiss/invlists/BlockInvertedLists.h>

namespace pixelfind {

namespace {

// FAISS 1.7.3 cannot remove from fast-scan lists (BlockInvertedLists::update_entries throws), so
// this does what IndexIVF::remove_ids does for other lists: move each list's last entry (its id and
// its 4-bit codes, packed in blocks of bbs) into the removed slot, clear the vacated slot (adding
// ORs codes into place), and shrink the list.
size_t RemoveFromFastScan(faiss::IndexIVFFastScan& index, const faiss::IDSelector& selector) {
  auto* lists = dynamic_cast<faiss::BlockInvertedLists*>(index.invlists);
  FAISS_THROW_IF_NOT_MSG(lists, "fast-scan index without block inverted lists");
  size_t removed = 0;
  for (size_t list = 0; list < index.nlist; list++) {
    auto& ids = lists->ids[list];
    uint8_t* codes = lists->codes[list].get();
    size_t size = ids.size();
    for (size_t j = 0; j < size;) {
      if (!selector.is_member(ids[j])) {
        j++;
        continue;
      }
      size--;
      ids[j] = ids[size];
      for (size_t sq = 0; sq < index.M2; sq++) {
        if (j != size) {
          uint8_t code = faiss::pq4_get_packed_element(codes, index.bbs, index.M2, size, sq);
          faiss::pq4_set_packed_element(codes, code, index.bbs, index.M2, j, sq);
        }
        faiss::pq4_set_packed_element(codes, 0, index.bbs, index.M2, size, sq);
      }
      removed++;
    }
    if (size != ids.size()) lists->resize(list, size);
  }
  index.ntotal -= removed;
  return removed;
}

class RemoveWorker : public IndexInputWorker<int64_t> {
 public:
  RemoveWorker(Napi::Env env, IndexRef handle, std::vector<int64_t> ids)
      : IndexInputWorker(env, "remove", std::move(handle), std::move(ids)) {}

 protected:
  void Run() override {
    faiss::IDSelectorBatch selector(input_.size(), input_.data());
    auto* fastScan = FindFastScan(handle_->index.get());
    removed_ = fastScan ? RemoveFromFastScan(*fastScan, selector) : handle_->index->remove_ids(selector);
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
