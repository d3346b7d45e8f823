#include "score-rows.h"

#include <faiss/utils/Heap.h>
#include <faiss/utils/distances.h>

#include <limits>

namespace pixelfind {

namespace {

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
  void Run() override {
    const int64_t n = static_cast<int64_t>(queries_.size()) / d_;
    distances_.assign(n * k_, -std::numeric_limits<float>::infinity());
    labels_.assign(n * k_, -1);
    using C = faiss::CMin<float, int64_t>;
    for (int64_t q = 0; q < n; q++) {
      float* dis = distances_.data() + q * k_;
      int64_t* ids = labels_.data() + q * k_;
      faiss::heap_heapify<C>(k_, dis, ids);
      const float* query = queries_.data() + q * d_;
      const int32_t* rows = rows_.data() + q * perQuery_;
      for (int64_t j = 0; j < perQuery_; j++) {
        const int64_t row = rows[j];
        if (row < 0 || row >= count_) continue;
        const float score = faiss::fvec_inner_product(query, vectors_ + row * d_, d_);
        if (C::cmp(dis[0], score)) faiss::heap_replace_top<C>(k_, dis, ids, score, j);
      }
      faiss::heap_reorder<C>(k_, dis, ids);
      for (int64_t j = 0; j < k_; j++) {
        if (ids[j] < 0) dis[j] = -std::numeric_limits<float>::infinity();
      }
    }
  }

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
  auto worker = new ScoreRowsWorker(env, vectors, static_cast<int>(d), std::move(queries), std::move(rows), perQuery, k);
  return worker->QueueForPromise();
}

}  // namespace pixelfind
