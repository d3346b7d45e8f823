#include "search.h"

#include "rescore.h"
#include "vector-file.h"

#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFFastScan.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/impl/IDSelector.h>

#include <algorithm>
#include <limits>
#include <optional>

namespace pixelfind {

namespace {

// The id map keeps our ids apart from the index's positions, so a selector over our ids
// is asked through the map (what IDSelectorTranslated does in later FAISS versions).
struct SelectorThroughIdMap : faiss::IDSelector {
  SelectorThroughIdMap(const std::vector<faiss::Index::idx_t>& idMap, const faiss::IDSelector& ours)
      : idMap(idMap), ours(ours) {}
  bool is_member(faiss::Index::idx_t position) const override { return ours.is_member(idMap[position]); }
  const std::vector<faiss::Index::idx_t>& idMap;
  const faiss::IDSelector& ours;
};

// The allowed ids as an open-addressing hash set: built in a few nanoseconds an id, where FAISS
// 1.7.3's IDSelectorBatch (an std::unordered_set) takes tens, which a filter of thousands of ids
// pays on every call.
class AllowedSet : public faiss::IDSelector {
 public:
  explicit AllowedSet(const std::vector<int64_t>& ids) {
    size_t capacity = 16;
    while (capacity < ids.size() * 2) capacity <<= 1;
    mask_ = capacity - 1;
    slots_.assign(capacity, kEmpty);
    for (const int64_t id : ids) {
      if (id == kEmpty) continue;  // never stored; is_member says no to it
      for (size_t slot = Hash(id) & mask_;; slot = (slot + 1) & mask_) {
        if (slots_[slot] == id) break;
        if (slots_[slot] == kEmpty) {
          slots_[slot] = id;
          break;
        }
      }
    }
  }

  bool is_member(faiss::Index::idx_t id) const override {
    if (id == kEmpty) return false;
    for (size_t slot = Hash(id) & mask_;; slot = (slot + 1) & mask_) {
      if (slots_[slot] == id) return true;
      if (slots_[slot] == kEmpty) return false;
    }
  }

 private:
  static constexpr int64_t kEmpty = std::numeric_limits<int64_t>::min();

  // Murmur3's 64-bit finaliser: sequential ids spread over the table.
  static size_t Hash(int64_t id) {
    uint64_t h = static_cast<uint64_t>(id);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return static_cast<size_t>(h);
  }

  std::vector<int64_t> slots_;
  size_t mask_ = 0;
};

struct SearchRequest {
  std::vector<float> queries;
  int64_t k = 0;
  int nprobe = 0;    // 0: the index's own setting
  int efSearch = 0;  // 0: the index's own setting
  std::optional<std::vector<int64_t>> allowedIds;
  // Re-score the k results per query exactly against these vectors and keep the rescoreK best.
  MappedRef rescore;
  int64_t rescoreK = 0;
};

// Owns every SearchParameters object of one call (they point at each other).
struct ParameterSet {
  std::vector<std::unique_ptr<faiss::SearchParameters>> owned;

  faiss::SearchParameters* For(const faiss::Index* index, const SearchRequest& request, faiss::IDSelector* sel) {
    if (auto pre = dynamic_cast<const faiss::IndexPreTransform*>(index)) {
      auto inner = For(pre->index, request, sel);
      if (!inner) return nullptr;
      auto params = std::make_unique<faiss::SearchParametersPreTransform>();
      params->index_params = inner;
      return Keep(std::move(params));
    }
    // IVF fast scan takes no SearchParameters in 1.7.3: nprobe is its member (the gate sets it) and
    // a selector is applied after the search (SearchWorker::SearchFiltered).
    if (dynamic_cast<const faiss::IndexIVFFastScan*>(index)) return nullptr;
    if (auto ivf = dynamic_cast<const faiss::IndexIVF*>(index)) {
      auto params = std::make_unique<faiss::SearchParametersIVF>();
      params->nprobe = request.nprobe > 0 ? request.nprobe : ivf->nprobe;
      params->sel = sel;
      if (request.efSearch > 0 && dynamic_cast<const faiss::IndexHNSW*>(ivf->quantizer)) {
        auto quantizer = std::make_unique<faiss::SearchParametersHNSW>();
        quantizer->efSearch = request.efSearch;
        params->quantizer_params = Keep(std::move(quantizer));
      }
      return Keep(std::move(params));
    }
    if (auto hnsw = dynamic_cast<const faiss::IndexHNSW*>(index)) {
      if (request.efSearch <= 0 && !sel) return nullptr;
      auto params = std::make_unique<faiss::SearchParametersHNSW>();
      params->efSearch = request.efSearch > 0 ? request.efSearch : hnsw->hnsw.efSearch;
      params->sel = sel;
      return Keep(std::move(params));
    }
    if (!sel) return nullptr;
    auto params = std::make_unique<faiss::SearchParameters>();
    params->sel = sel;
    return Keep(std::move(params));
  }

  faiss::SearchParameters* Keep(std::unique_ptr<faiss::SearchParameters> params) {
    owned.push_back(std::move(params));
    return owned.back().get();
  }
};

class SearchWorker : public PromiseWorker {
 public:
  SearchWorker(Napi::Env env, IndexRef handle, SearchRequest request)
      : PromiseWorker(env, "search"), handle_(std::move(handle)), request_(std::move(request)) {}

 protected:
  void Run() override {
    Search();
    if (request_.rescore) {
      // the short list goes straight to the exact re-score, on this thread: one pool hop, and no
      // list of ids through JavaScript, instead of two
      const auto n = static_cast<int64_t>(request_.queries.size()) / request_.rescore->dimension;
      std::vector<float> distances(n * request_.rescoreK);
      std::vector<faiss::Index::idx_t> labels(n * request_.rescoreK);
      RescoreInto(*request_.rescore, request_.queries.data(), n, labels_.data(), request_.k, request_.rescoreK,
                  distances.data(), labels.data());
      distances_.swap(distances);
      labels_.swap(labels);
    }
  }

  Napi::Value Result(Napi::Env env) override { return SearchResult(env, distances_, labels_); }

 private:
  void Search() {
    const faiss::Index* top = handle_->index.get();
    const faiss::IndexIDMap* idmap = handle_->idmap;
    const faiss::Index* target = idmap ? idmap->index : top;
    auto n = static_cast<int64_t>(request_.queries.size() / top->d);
    int64_t k = request_.k;
    distances_.assign(n * k, -std::numeric_limits<float>::infinity());
    labels_.assign(n * k, -1);
    if (n == 0 || top->ntotal == 0) return;

    std::unique_ptr<AllowedSet> allowed;
    std::unique_ptr<SelectorThroughIdMap> translated;
    faiss::IDSelector* sel = nullptr;
    if (request_.allowedIds) {
      if (request_.allowedIds->empty()) return;
      allowed = std::make_unique<AllowedSet>(*request_.allowedIds);
      sel = allowed.get();
      if (idmap) {
        translated = std::make_unique<SelectorThroughIdMap>(idmap->id_map, *allowed);
        sel = translated.get();
      }
    }
    if (request_.efSearch <= 0) request_.efSearch = handle_->efGate.defaultValue;
    if (request_.nprobe <= 0) request_.nprobe = handle_->nprobeGate.defaultValue;
    ParameterLease efLease(handle_->efGate, request_.efSearch);
    ParameterLease nprobeLease(handle_->nprobeGate, request_.nprobe);
    if (sel && handle_->nprobeGate.apply) {
      SearchFiltered(*target, n, k, *sel);
    } else {
      ParameterSet parameters;
      faiss::SearchParameters* params = parameters.For(target, request_, sel);
      target->search(n, request_.queries.data(), k, distances_.data(), labels_.data(), params);
    }

    for (size_t i = 0; i < labels_.size(); i++) {
      if (labels_[i] < 0) {
        labels_[i] = -1;
        distances_[i] = -std::numeric_limits<float>::infinity();
      } else if (idmap) {
        labels_[i] = idmap->id_map[labels_[i]];
      }
    }
  }

  // For an index that cannot take a selector: fetch a longer list and keep the allowed ids, growing
  // the list until every query has k allowed hits or its probed lists are exhausted. Only allowed
  // ids ever reach the result; the recall is that of the unfiltered search over the same lists.
  void SearchFiltered(const faiss::Index& index, int64_t n, int64_t k, const faiss::IDSelector& sel) {
    int64_t fetch = std::min<int64_t>(index.ntotal, std::max<int64_t>(4 * k, 64));
    std::vector<float> distances;
    std::vector<faiss::Index::idx_t> labels;
    for (;;) {
      distances.resize(n * fetch);
      labels.resize(n * fetch);
      index.search(n, request_.queries.data(), fetch, distances.data(), labels.data());
      bool complete = true;
      for (int64_t q = 0; q < n; q++) {
        int64_t kept = 0;
        for (int64_t j = q * fetch; j < (q + 1) * fetch && kept < k; j++) {
          if (labels[j] < 0 || !sel.is_member(labels[j])) continue;
          distances_[q * k + kept] = distances[j];
          labels_[q * k + kept] = labels[j];
          kept++;
        }
        for (int64_t j = kept; j < k; j++) labels_[q * k + j] = -1;
        bool exhausted = labels[(q + 1) * fetch - 1] < 0;
        if (kept < k && !exhausted) complete = false;
      }
      if (complete || fetch >= index.ntotal) return;
      fetch = std::min<int64_t>(index.ntotal, fetch * 4);
    }
  }

  IndexRef handle_;
  SearchRequest request_;
  std::vector<float> distances_;
  std::vector<faiss::Index::idx_t> labels_;
};

int OptionalInt(const Napi::Object& options, const char* name) {
  Napi::Value value = options.Get(name);
  return value.IsNumber() ? value.As<Napi::Number>().Int32Value() : 0;
}

}  // namespace

Napi::Value QueueSearch(Napi::Env env, IndexRef handle, const Napi::Value& queries, const Napi::Value& k,
                        const Napi::Value& options) {
  SearchRequest request;
  request.queries = CopyFloats(queries, "queries");
  if (!k.IsNumber()) throw Napi::TypeError::New(env, "Expected number for k");
  request.k = k.As<Napi::Number>().Int64Value();
  if (request.k <= 0) throw Napi::RangeError::New(env, "Expected positive k");
  if (options.IsObject()) {
    auto object = options.As<Napi::Object>();
    request.nprobe = OptionalInt(object, "nprobe");
    request.efSearch = OptionalInt(object, "efSearch");
    Napi::Value allowed = object.Get("allowedIds");
    if (!allowed.IsUndefined() && !allowed.IsNull()) request.allowedIds = CopyIds(allowed, "allowedIds");
    Napi::Value rescore = object.Get("rescore");
    if (!rescore.IsUndefined() && !rescore.IsNull()) {
      request.rescore = VectorFileObject::MappedOf(env, rescore, "rescore");
      Napi::Value rescoreK = object.Get("rescoreK");
      if (!rescoreK.IsNumber() || rescoreK.As<Napi::Number>().Int64Value() <= 0 ||
          rescoreK.As<Napi::Number>().Int64Value() > request.k)
        throw Napi::RangeError::New(env, "Expected rescoreK between 1 and k");
      request.rescoreK = rescoreK.As<Napi::Number>().Int64Value();
      if (request.rescore->dimension != handle->index->d)
        throw Napi::RangeError::New(env, "the vectors to re-score with do not have the index's dimension");
    }
  }
  auto worker = new SearchWorker(env, std::move(handle), std::move(request));
  return worker->QueueForPromise();
}

}  // namespace pixelfind
