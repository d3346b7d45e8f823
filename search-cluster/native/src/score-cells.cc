#include "score-cells.h"

#include <faiss/utils/Heap.h>
#include <faiss/utils/distances.h>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

namespace pixelfind {

namespace {

// The rows' 8-bit codes (code = round((x - min) / scale) per dimension, one byte each): the scan
// ranks the allowed rows by them, reading a quarter of the bytes, and re-scores the best exactly.
struct CodeSource {
  const uint8_t* codes = nullptr;  // null: score every row exactly
  std::vector<float> scale;        // per dimension
  int64_t shortList = 0;           // rows re-scored exactly per query
};

// sum_j weight[j] * code[j]: the code part of the inner product (the offset part is the same for
// every row, so ranking needs only this).
float CodeDot(const float* weight, const uint8_t* code, int64_t d) {
  int64_t j = 0;
  float sum = 0;
#if defined(__AVX2__) && defined(__FMA__)
  __m256 a0 = _mm256_setzero_ps();
  __m256 a1 = _mm256_setzero_ps();
  for (; j + 16 <= d; j += 16) {
    uint64_t lo;
    uint64_t hi;
    std::memcpy(&lo, code + j, 8);
    std::memcpy(&hi, code + j + 8, 8);
    const __m256 c0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(lo))));
    const __m256 c1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(hi))));
    a0 = _mm256_fmadd_ps(c0, _mm256_loadu_ps(weight + j), a0);
    a1 = _mm256_fmadd_ps(c1, _mm256_loadu_ps(weight + j + 8), a1);
  }
  const __m256 a = _mm256_add_ps(a0, a1);
  const __m128 h = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  const __m128 h2 = _mm_add_ps(h, _mm_movehl_ps(h, h));
  sum = _mm_cvtss_f32(_mm_add_ss(h2, _mm_shuffle_ps(h2, h2, 1)));
#endif
  for (; j < d; j++) sum += weight[j] * static_cast<float>(code[j]);
  return sum;
}

// Rows are scattered (the allowed ones, in row order): the hardware prefetcher only follows a row
// after its first lines miss, so every line of the row kAhead places on is requested up front.
constexpr size_t kAhead = 8;
inline void PrefetchRow(const void* row, int64_t bytes) {
  const char* at = static_cast<const char*>(row);
  for (int64_t line = 0; line < bytes; line += 64) __builtin_prefetch(at + line);
}

// Where the rows live: a Float32Array held by reference, or a memory-mapped file.
struct RowSource {
  const float* vectors = nullptr;
  int64_t count = 0;
  int dimension = 0;
  MappedRef mapped;  // keeps a file's mapping alive
};

class ScoreCellsWorker : public PromiseWorker {
 public:
  ScoreCellsWorker(Napi::Env env, RowSource source, std::optional<Napi::Float32Array> vectors,
                   std::vector<float> queries, std::vector<int32_t> rows, const Napi::Int32Array& cellOfRow,
                   const Napi::Float32Array& centroids, int64_t budget, int64_t minCells, int64_t k,
                   CodeSource codes, std::optional<Napi::Uint8Array> codeArray)
      : PromiseWorker(env, "scoreCells"),
        source_(std::move(source)),
        codes_(std::move(codes)),
        keepCells_(Napi::Persistent(cellOfRow)),
        keepCentroids_(Napi::Persistent(centroids)),
        cellOfRow_(cellOfRow.Data()),
        centroids_(centroids.Data()),
        cellCount_(static_cast<int64_t>(centroids.ElementLength()) / source_.dimension),
        queries_(std::move(queries)),
        rows_(std::move(rows)),
        budget_(budget),
        minCells_(minCells),
        k_(k) {
    if (vectors) keepVectors_ = Napi::Persistent(*vectors);
    if (codeArray) keepCodes_ = Napi::Persistent(*codeArray);
  }

 protected:
  void Run() override {
    const int64_t d = source_.dimension;
    const int64_t n = static_cast<int64_t>(queries_.size()) / d;
    distances_.assign(n * k_, -std::numeric_limits<float>::infinity());
    labels_.assign(n * k_, -1);
    Prepare();
    std::vector<std::pair<float, int32_t>> order(occupied_.size());
    std::vector<int32_t> scan;
    std::vector<uint64_t> marks((source_.count + 63) / 64, 0);
    using C = faiss::CMin<float, int64_t>;
    for (int64_t q = 0; q < n; q++) {
      const float* query = queries_.data() + q * d;
      for (size_t i = 0; i < occupied_.size(); i++) {
        const int32_t c = occupied_[i];
        order[i] = {faiss::fvec_inner_product(query, centroids_ + c * d, d), c};
      }
      // a max-heap on the centroid score, popped only as far as the scan goes
      std::make_heap(order.begin(), order.end());
      // the chosen cells' rows, marked in a bitmap over the tier's rows and read back in row
      // order: the scan then reads memory forwards (prefetcher, pages) rather than all over it
      int64_t taken = 0;
      int64_t visited = 0;
      for (auto end = order.end(); end != order.begin() && (taken < budget_ || visited < minCells_); --end) {
        std::pop_heap(order.begin(), end);
        const int32_t c = (end - 1)->second;
        for (int64_t i = starts_[c]; i < starts_[c + 1]; i++) {
          const int32_t row = grouped_[i];
          marks[row >> 6] |= uint64_t{1} << (row & 63);
        }
        taken += starts_[c + 1] - starts_[c];
        visited++;
      }
      scan.clear();
      for (size_t w = 0; w < marks.size(); w++) {
        for (uint64_t word = marks[w]; word != 0; word &= word - 1) {
          scan.push_back(static_cast<int32_t>(w * 64 + __builtin_ctzll(word)));
        }
        marks[w] = 0;
      }
      float* dis = distances_.data() + q * k_;
      int64_t* ids = labels_.data() + q * k_;
      faiss::heap_heapify<C>(k_, dis, ids);
      if (codes_.codes && static_cast<int64_t>(scan.size()) > codes_.shortList) ShortList(query, scan);
      const size_t count = scan.size();
      for (size_t j = 0; j < count; j++) {
        if (j + 4 < count) __builtin_prefetch(source_.vectors + static_cast<int64_t>(scan[j + 4]) * d);
        const float score = faiss::fvec_inner_product(query, source_.vectors + static_cast<int64_t>(scan[j]) * d, d);
        if (C::cmp(dis[0], score)) faiss::heap_replace_top<C>(k_, dis, ids, score, scan[j]);
      }
      faiss::heap_reorder<C>(k_, dis, ids);
      for (int64_t j = 0; j < k_; j++) {
        if (ids[j] < 0) dis[j] = -std::numeric_limits<float>::infinity();
      }
    }
  }

  Napi::Value Result(Napi::Env env) override {
    keepVectors_.Reset();
    keepCodes_.Reset();
    keepCells_.Reset();
    keepCentroids_.Reset();
    return SearchResult(env, distances_, labels_);
  }

 private:
  // Replaces `scan` by its `shortList` rows of best code score, in row order.
  void ShortList(const float* query, std::vector<int32_t>& scan) {
    const int64_t d = source_.dimension;
    weight_.resize(d);
    for (int64_t j = 0; j < d; j++) weight_[j] = query[j] * codes_.scale[j];
    using C = faiss::CMin<float, int64_t>;
    const int64_t r = codes_.shortList;
    approx_.assign(r, 0);
    approxIds_.assign(r, -1);
    faiss::heap_heapify<C>(r, approx_.data(), approxIds_.data());
    const size_t count = scan.size();
    for (size_t j = 0; j < count; j++) {
      const uint8_t* code = codes_.codes + static_cast<int64_t>(scan[j]) * d;
      if (j + kAhead < count) PrefetchRow(codes_.codes + static_cast<int64_t>(scan[j + kAhead]) * d, d);
      const float score = CodeDot(weight_.data(), code, d);
      if (C::cmp(approx_[0], score)) faiss::heap_replace_top<C>(r, approx_.data(), approxIds_.data(), score, scan[j]);
    }
    scan.clear();
    for (const int64_t row : approxIds_) {
      if (row >= 0) scan.push_back(static_cast<int32_t>(row));
    }
    std::sort(scan.begin(), scan.end());
  }

  // Once per call (every query shares it): the given rows without repeats (through a bitmap over
  // the tier's rows, unless they come strictly ascending), counting-sorted by cell. Rows outside
  // the tier or of no cell are dropped, never scored.
  void Prepare() {
    auto valid = [this](int32_t row) {
      return row >= 0 && row < source_.count && cellOfRow_[row] >= 0 && cellOfRow_[row] < cellCount_;
    };
    bool ascending = true;
    for (size_t i = 1; i < rows_.size() && ascending; i++) ascending = rows_[i] > rows_[i - 1];
    if (!ascending) {
      std::vector<uint64_t> bits((source_.count + 63) / 64, 0);
      for (const int32_t row : rows_) {
        if (valid(row)) bits[row >> 6] |= uint64_t{1} << (row & 63);
      }
      rows_.clear();
      for (size_t w = 0; w < bits.size(); w++) {
        for (uint64_t word = bits[w]; word != 0; word &= word - 1) {
          rows_.push_back(static_cast<int32_t>(w * 64 + __builtin_ctzll(word)));
        }
      }
    }
    starts_.assign(cellCount_ + 1, 0);
    for (const int32_t row : rows_) {
      if (valid(row)) starts_[cellOfRow_[row] + 1]++;
    }
    for (int64_t c = 0; c < cellCount_; c++) starts_[c + 1] += starts_[c];
    std::vector<int64_t> next(starts_.begin(), starts_.end() - 1);
    grouped_.resize(starts_[cellCount_]);
    for (const int32_t row : rows_) {
      if (valid(row)) grouped_[next[cellOfRow_[row]]++] = row;
    }
    for (int64_t c = 0; c < cellCount_; c++) {
      if (starts_[c + 1] > starts_[c]) occupied_.push_back(static_cast<int32_t>(c));
    }
  }

  RowSource source_;
  CodeSource codes_;
  std::vector<float> weight_;
  std::vector<float> approx_;
  std::vector<int64_t> approxIds_;
  Napi::Reference<Napi::Float32Array> keepVectors_;
  Napi::Reference<Napi::Uint8Array> keepCodes_;
  Napi::Reference<Napi::Int32Array> keepCells_;
  Napi::Reference<Napi::Float32Array> keepCentroids_;
  const int32_t* cellOfRow_;
  const float* centroids_;
  int64_t cellCount_;
  std::vector<float> queries_;
  std::vector<int32_t> rows_;
  int64_t budget_;
  int64_t minCells_;
  int64_t k_;
  std::vector<int64_t> starts_;    // cell c holds grouped_[starts_[c] .. starts_[c + 1]]
  std::vector<int32_t> grouped_;   // the rows, by cell
  std::vector<int32_t> occupied_;  // cells holding any
  std::vector<float> distances_;
  std::vector<int64_t> labels_;
};

int64_t NonNegativeInteger(const Napi::Env& env, const Napi::Value& value, const char* name) {
  if (!value.IsNumber() || value.As<Napi::Number>().Int64Value() < 0)
    throw Napi::RangeError::New(env, std::string("Expected non-negative integer for ") + name);
  return value.As<Napi::Number>().Int64Value();
}

bool IsArrayOf(const Napi::Value& value, napi_typedarray_type type) {
  return value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == type;
}

// The arguments after the row source: queries, rows, cellOfRow, centroids, budget, minCells, k,
// then optionally codes (Uint8Array of a byte per dimension per row, or null), their per-dimension
// scale (Float32Array) and the short list re-scored exactly.
Napi::Value Queue(const Napi::CallbackInfo& info, size_t at, RowSource source,
                  std::optional<Napi::Float32Array> vectors) {
  Napi::Env env = info.Env();
  auto queries = CopyFloats(info[at], "queries");
  if (!IsArrayOf(info[at + 1], napi_int32_array)) throw Napi::TypeError::New(env, "Expected Int32Array for rows");
  auto rowArray = info[at + 1].As<Napi::Int32Array>();
  std::vector<int32_t> rows(rowArray.Data(), rowArray.Data() + rowArray.ElementLength());
  if (!IsArrayOf(info[at + 2], napi_int32_array))
    throw Napi::TypeError::New(env, "Expected Int32Array for cellOfRow");
  auto cellOfRow = info[at + 2].As<Napi::Int32Array>();
  if (!IsArrayOf(info[at + 3], napi_float32_array))
    throw Napi::TypeError::New(env, "Expected Float32Array for centroids");
  auto centroids = info[at + 3].As<Napi::Float32Array>();
  const auto budget = NonNegativeInteger(env, info[at + 4], "budget");
  const auto minCells = NonNegativeInteger(env, info[at + 5], "minCells");
  const auto k = NonNegativeInteger(env, info[at + 6], "k");
  const int64_t d = source.dimension;
  if (k == 0) throw Napi::RangeError::New(env, "Expected positive integer for k");
  if (queries.size() % d != 0 || centroids.ElementLength() % d != 0)
    throw Napi::RangeError::New(env, "queries and centroids must hold whole rows of the dimension");
  if (static_cast<int64_t>(cellOfRow.ElementLength()) != source.count)
    throw Napi::RangeError::New(env, "cellOfRow must hold one cell for each row of the vectors");
  CodeSource codes;
  std::optional<Napi::Uint8Array> codeArray;
  if (!info[at + 7].IsUndefined() && !info[at + 7].IsNull()) {
    if (!IsArrayOf(info[at + 7], napi_uint8_array)) throw Napi::TypeError::New(env, "Expected Uint8Array for codes");
    codeArray = info[at + 7].As<Napi::Uint8Array>();
    if (static_cast<int64_t>(codeArray->ElementLength()) != source.count * d)
      throw Napi::RangeError::New(env, "codes must hold one byte per dimension for each row of the vectors");
    if (!IsArrayOf(info[at + 8], napi_float32_array) ||
        static_cast<int64_t>(info[at + 8].As<Napi::Float32Array>().ElementLength()) != d)
      throw Napi::TypeError::New(env, "Expected Float32Array of one scale per dimension for codeScale");
    auto scale = info[at + 8].As<Napi::Float32Array>();
    codes.codes = codeArray->Data();
    codes.scale.assign(scale.Data(), scale.Data() + d);
    codes.shortList = NonNegativeInteger(env, info[at + 9], "shortList");
    if (codes.shortList < k) throw Napi::RangeError::New(env, "shortList must be at least k");
  }
  auto worker = new ScoreCellsWorker(env, std::move(source), vectors, std::move(queries), std::move(rows), cellOfRow,
                                     centroids, budget, minCells, k, std::move(codes), codeArray);
  return worker->QueueForPromise();
}

}  // namespace

Napi::Value ScoreCells(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!IsArrayOf(info[0], napi_float32_array)) throw Napi::TypeError::New(env, "Expected Float32Array for vectors");
  auto vectors = info[0].As<Napi::Float32Array>();
  if (!info[1].IsNumber() || info[1].As<Napi::Number>().Int64Value() <= 0)
    throw Napi::RangeError::New(env, "Expected positive integer for dimension");
  RowSource source;
  source.dimension = static_cast<int>(info[1].As<Napi::Number>().Int64Value());
  if (vectors.ElementLength() % source.dimension != 0)
    throw Napi::RangeError::New(env, "vectors must hold whole rows of the dimension");
  source.vectors = vectors.Data();
  source.count = static_cast<int64_t>(vectors.ElementLength()) / source.dimension;
  return Queue(info, 2, std::move(source), vectors);
}

Napi::Value QueueScoreCells(const Napi::CallbackInfo& info, MappedRef mapped) {
  RowSource source;
  source.vectors = mapped->vectors;
  source.count = mapped->count;
  source.dimension = mapped->dimension;
  source.mapped = std::move(mapped);
  return Queue(info, 0, std::move(source), std::nullopt);
}

}  // namespace pixelfind
