#include "rescore.h"

#include <faiss/utils/distances.h>

#include <algorithm>
#include <limits>

namespace pixelfind {

namespace {
constexpr size_t kCacheLine = 64;
// Rows requested ahead of the one being scored (a 512-d row is 32 cache lines); not tuned.
constexpr size_t kPrefetchAhead = 2;
}  // namespace

void RescoreInto(const MappedVectors& mapped, const float* queries, int64_t n, const int64_t* candidates,
                 int64_t perQuery, int64_t k, float* distances, int64_t* ids) {
  const int64_t d = mapped.dimension;
  std::fill(distances, distances + n * k, -std::numeric_limits<float>::infinity());
  std::fill(ids, ids + n * k, -1);
#pragma omp parallel for schedule(dynamic)
  for (int64_t q = 0; q < n; q++) {
    const float* query = queries + q * d;
    const int64_t* list = candidates + q * perQuery;
    // Rows first, then the products with the row kPrefetchAhead places on already requested: the
    // short list's rows are scattered over a file far larger than the caches. A perf profile of
    // bench:search at 200k x 512 put the id lookups at 3.4% of the machine and the products at
    // 2.7%; what the prefetch saves is not separately measured (bench:search at 1M moved within
    // its run-to-run spread). A prefetch of a page not yet mapped is dropped, never a fault.
    std::vector<std::pair<int64_t, int64_t>> found;  // (row, id)
    found.reserve(perQuery);
    for (int64_t c = 0; c < perQuery; c++) {
      if (list[c] < 0) continue;
      int64_t row = mapped.RowOf(list[c]);
      if (row >= 0) found.emplace_back(row, list[c]);
    }
    std::vector<std::pair<float, int64_t>> scored;
    scored.reserve(found.size());
    const size_t rowBytes = static_cast<size_t>(d) * sizeof(float);
    auto prefetchRow = [&](size_t at) {
      const char* start = reinterpret_cast<const char*>(mapped.vectors + found[at].first * d);
      for (size_t offset = 0; offset < rowBytes; offset += kCacheLine) __builtin_prefetch(start + offset, 0, 0);
    };
    for (size_t c = 0; c < std::min(found.size(), kPrefetchAhead); c++) prefetchRow(c);
    for (size_t c = 0; c < found.size(); c++) {
      if (c + kPrefetchAhead < found.size()) prefetchRow(c + kPrefetchAhead);
      scored.emplace_back(faiss::fvec_inner_product(query, mapped.vectors + found[c].first * d, d), found[c].second);
    }
    // Highest score first; on ties the smaller id, so results do not depend on candidate order.
    auto better = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
    std::sort(scored.begin(), scored.end(), better);
    scored.erase(std::unique(scored.begin(), scored.end(),
                             [](const auto& a, const auto& b) { return a.second == b.second; }),
                 scored.end());
    int64_t kept = std::min<int64_t>(k, scored.size());
    for (int64_t j = 0; j < kept; j++) {
      distances[q * k + j] = scored[j].first;
      ids[q * k + j] = scored[j].second;
    }
  }
}

namespace {

class RescoreWorker : public PromiseWorker {
 public:
  RescoreWorker(Napi::Env env, MappedRef mapped, std::vector<float> queries, std::vector<int64_t> candidates,
                int64_t k)
      : PromiseWorker(env, "rescore"),
        mapped_(std::move(mapped)),
        queries_(std::move(queries)),
        candidates_(std::move(candidates)),
        k_(k) {}

 protected:
  void Run() override {
    const int64_t d = mapped_->dimension;
    const int64_t n = static_cast<int64_t>(queries_.size()) / d;
    const int64_t perQuery = n > 0 ? static_cast<int64_t>(candidates_.size()) / n : 0;
    distances_.resize(n * k_);
    ids_.resize(n * k_);
    RescoreInto(*mapped_, queries_.data(), n, candidates_.data(), perQuery, k_, distances_.data(), ids_.data());
  }

  Napi::Value Result(Napi::Env env) override { return SearchResult(env, distances_, ids_); }

 private:
  MappedRef mapped_;
  std::vector<float> queries_;
  std::vector<int64_t> candidates_;
  int64_t k_;
  std::vector<float> distances_;
  std::vector<int64_t> ids_;
};

}  // namespace

Napi::Value QueueRescore(Napi::Env env, MappedRef mapped, const Napi::Value& queries, const Napi::Value& candidates,
                         const Napi::Value& k) {
  auto queryCopy = CopyFloats(queries, "queries");
  auto candidateCopy = CopyIds(candidates, "candidates");
  if (!k.IsNumber() || k.As<Napi::Number>().Int64Value() <= 0) throw Napi::RangeError::New(env, "Expected positive k");
  if (queryCopy.size() % mapped->dimension != 0) throw Napi::RangeError::New(env, "queries do not match the dimension");
  int64_t n = static_cast<int64_t>(queryCopy.size()) / mapped->dimension;
  if ((n == 0 && !candidateCopy.empty()) || (n > 0 && candidateCopy.size() % n != 0)) {
    throw Napi::RangeError::New(env, "candidates must hold the same number of ids per query");
  }
  auto worker = new RescoreWorker(env, std::move(mapped), std::move(queryCopy), std::move(candidateCopy),
                                  k.As<Napi::Number>().Int64Value());
  return worker->QueueForPromise();
}

}  // namespace pixelfind
