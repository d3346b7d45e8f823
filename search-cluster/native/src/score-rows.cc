#include "score-rows.h"

#include <faiss/utils/Heap.h>
#include <faiss/utils/distances.h>

#include <limits>

namespace pixelfind {

namespace {

// The k best of each query's perQuery rows by inner product (rows outside the store skipped),
// best first, as positions in the query's row list; -1 / -inf pad.
void Score(const float* vectors, int64_t count, int d, const std::vector<float>& queries,
           const std::vector<int32_t>& rowList, int64_t perQuery, int64_t k, std::vector<float>& distances,
           std::vector<int64_t>& labels) {
  const int64_t n = static_cast<int64_t>(queries.size()) / d;
  distances.assign(n * k, -std::numeric_limits<float>::infinity());
  labels.assign(n * k, -1);
  using C = faiss::CMin<float, int64_t>;
  for (int64_t q = 0; q < n; q++) {
    float* dis = distances.data() + q * k;
    int64_t* ids = labels.data() + q * k;
    faiss::heap_heapify<C>(k, dis, ids);
    const float* query = queries.data() + q * d;
    const int32_t* rows = rowList.data() + q * perQuery;
    for (int64_t j = 0; j < perQuery; j++) {
      const int64_t row = rows[j];
      if (row < 0 || row >= count) continue;
      const float score = faiss::fvec_inner_product(query, vectors + row * d, d);
      if (C::cmp(dis[0], score)) faiss::heap_replace_top<C>(k, dis, ids, score, j);
    }
    faiss::heap_reorder<C>(k, dis, ids);
    for (int64_t j = 0; j < k; j++) {
      if (ids[j] < 0) dis[j] = -std::numeric_limits<float>::infinity();
    }
  }
}

// Calls with at most this many floats of rows to read (128 rows at 512-d, some 10-30 us) are
// scored on the calling thread: a trip to the libuv pool and back costs more (~40-50 us of CPU
// measured on the 2-core machine), and the event loop is held no longer than that trip's own work.
constexpr int64_t kInlineFloats = 65536;

class ScoreRowsWorker : public PromiseWorker {
 public:
  // `vectors` is not copied: it is an immutable tier's whole row store (copying it per call would
  // cost more than the scan). The reference keeps it alive until the worker finishes; nothing
  // writes to a tier's vectors after it is built.
  ScoreRowsWorker(Napi::Env env, const Napi::Float32Array& vectors, int dimension, std::vector<float> queries,
                  std::vector<int32_t> rows, int64_t perQuery, int64_t k)
      : PromiseWorker(env, "scoreRows"),
        keep_(Napi::Persistent(vectors)),
        vectors_(vectors.Data()),
        count_(static_cast<int64_t>(vectors.ElementLength()) / dimension),
        d_(dimension),
        queries_(std::move(queries)),
        rows_(std::move(rows)),
        perQuery_(perQuery),
        k_(k) {}

 protected:
  void Run() override { Score(vectors_, count_, d_, queries_, rows_, perQuery_, k_, distances_, labels_); }

  Napi::Value Result(Napi::Env env) override {
    keep_.Reset();
    return SearchResult(env, distances_, labels_);
  }

 private:
  Napi::Reference<Napi::Float32Array> keep_;
  const float* vectors_;
  int64_t count_;
  int d_;
  std::vector<float> queries_;
  std::vector<int32_t> rows_;
  int64_t perQuery_;
  int64_t k_;
  std::vector<float> distances_;
  std::vector<int64_t> labels_;
};

int64_t PositiveInteger(const Napi::Env& env, const Napi::Value& value, const char* name) {
  if (!value.IsNumber() || value.As<Napi::Number>().Int64Value() <= 0)
    throw Napi::RangeError::New(env, std::string("Expected positive integer for ") + name);
  return value.As<Napi::Number>().Int64Value();
}

}  // namespace

Napi::Value ScoreRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, "Expected Float32Array for vectors");
  auto vectors = info[0].As<Napi::Float32Array>();
  const auto d = PositiveInteger(env, info[1], "dimension");
  auto queries = CopyFloats(info[2], "queries");
  if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(env, "Expected Int32Array for rows");
  auto rowArray = info[3].As<Napi::Int32Array>();
  std::vector<int32_t> rows(rowArray.Data(), rowArray.Data() + rowArray.ElementLength());
  const auto perQuery = info[4].IsNumber() ? info[4].As<Napi::Number>().Int64Value() : -1;
  const auto k = PositiveInteger(env, info[5], "k");
  if (vectors.ElementLength() % d != 0 || queries.size() % d != 0)
    throw Napi::RangeError::New(env, "vectors and queries must hold whole rows of the dimension");
  const auto n = static_cast<int64_t>(queries.size()) / d;
  if (perQuery < 0 || static_cast<int64_t>(rows.size()) != n * perQuery)
    throw Napi::RangeError::New(env, "rows must hold perQuery rows for each query");
  if (static_cast<int64_t>(rows.size()) * d <= kInlineFloats) {
    std::vector<float> distances;
    std::vector<int64_t> labels;
    Score(vectors.Data(), static_cast<int64_t>(vectors.ElementLength()) / d, static_cast<int>(d), queries, rows,
          perQuery, k, distances, labels);
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Resolve(SearchResult(env, distances, labels));
    return deferred.Promise();
  }
  auto worker = new ScoreRowsWorker(env, vectors, static_cast<int>(d), std::move(queries), std::move(rows), perQuery, k);
  return worker->QueueForPromise();
}

}  // namespace pixelfind
