#include "common.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFFastScan.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexIVFPQFastScan.h>
#include <faiss/invlists/BlockInvertedLists.h>
#include <faiss/IndexPQ.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/VectorTransform.h>
#include <faiss/impl/FaissException.h>
#include <omp.h>

#include <algorithm>
#include <new>
#include <regex>

namespace pixelfind {

std::atomic<int> g_threads{0};

void ApplyThreads() {
  int threads = g_threads.load();
  if (threads > 0) omp_set_num_threads(threads);
}

static bool KeepsIdsNatively(faiss::Index* index) {
  if (dynamic_cast<faiss::IndexIVF*>(index)) return true;
  if (auto pre = dynamic_cast<faiss::IndexPreTransform*>(index)) return KeepsIdsNatively(pre->index);
  return false;
}

// The HNSW graph a search walks: the index itself, or the coarse quantizer of an IVF index.
static faiss::IndexHNSW* FindHnsw(faiss::Index* index) {
  if (auto idmap = dynamic_cast<faiss::IndexIDMap*>(index)) return FindHnsw(idmap->index);
  if (auto pre = dynamic_cast<faiss::IndexPreTransform*>(index)) return FindHnsw(pre->index);
  if (auto ivf = dynamic_cast<faiss::IndexIVF*>(index)) return dynamic_cast<faiss::IndexHNSW*>(ivf->quantizer);
  return dynamic_cast<faiss::IndexHNSW*>(index);
}

ParameterLease::ParameterLease(ParameterGate& gate, int value) : gate_(gate.apply ? &gate : nullptr) {
  if (!gate_) return;
  std::unique_lock<std::mutex> lock(gate_->mutex);
  gate_->idle.wait(lock, [&] { return gate_->active == 0 || gate_->current == value; });
  if (gate_->current != value) {
    gate_->apply(value);
    gate_->current = value;
  }
  gate_->active++;
}

ParameterLease::~ParameterLease() {
  if (!gate_) return;
  std::lock_guard<std::mutex> lock(gate_->mutex);
  if (--gate_->active == 0) gate_->idle.notify_all();
}

faiss::IndexIVFFastScan* FindFastScan(faiss::Index* index) {
  if (auto pre = dynamic_cast<faiss::IndexPreTransform*>(index)) return FindFastScan(pre->index);
  return dynamic_cast<faiss::IndexIVFFastScan*>(index);
}

IndexRef WrapIndex(faiss::Index* index) {
  auto handle = std::make_shared<IndexHandle>();
  if (auto hnsw = FindHnsw(index)) {
    handle->efGate.Bind([hnsw](int ef) { hnsw->hnsw.efSearch = ef; }, hnsw->hnsw.efSearch);
  }
  if (auto fastScan = FindFastScan(index)) {
    handle->nprobeGate.Bind([fastScan](int nprobe) { fastScan->nprobe = std::min<size_t>(nprobe, fastScan->nlist); },
                            static_cast<int>(fastScan->nprobe));
  }
  if (auto idmap = dynamic_cast<faiss::IndexIDMap*>(index)) {
    handle->index.reset(index);
    handle->idmap = idmap;
  } else if (KeepsIdsNatively(index)) {
    handle->index.reset(index);
  } else {
    auto idmap = new faiss::IndexIDMap(index);
    idmap->own_fields = true;
    handle->index.reset(idmap);
    handle->idmap = idmap;
  }
  return handle;
}

size_t EstimateBytes(const faiss::Index* index) {
  if (!index) return 0;
  if (auto idmap = dynamic_cast<const faiss::IndexIDMap*>(index)) {
    return idmap->id_map.size() * sizeof(int64_t) + EstimateBytes(idmap->index);
  }
  if (auto flat = dynamic_cast<const faiss::IndexFlatCodes*>(index)) {
    size_t bytes = flat->codes.size();
    if (auto pq = dynamic_cast<const faiss::IndexPQ*>(index)) bytes += pq->pq.centroids.size() * sizeof(float);
    return bytes;
  }
  if (auto hnsw = dynamic_cast<const faiss::IndexHNSW*>(index)) {
    const auto& g = hnsw->hnsw;
    return EstimateBytes(hnsw->storage) + g.neighbors.size() * sizeof(int32_t) + g.levels.size() * sizeof(int) +
           g.offsets.size() * sizeof(size_t);
  }
  if (auto ivf = dynamic_cast<const faiss::IndexIVF*>(index)) {
    size_t bytes = EstimateBytes(ivf->quantizer);
    // fast scan packs codes in blocks of 32, so a list's code bytes round up to whole blocks
    auto blocks = dynamic_cast<const faiss::BlockInvertedLists*>(ivf->invlists);
    for (size_t list = 0; list < ivf->nlist; list++) {
      size_t size = ivf->invlists->list_size(list);
      bytes += size * sizeof(int64_t) + (blocks ? blocks->codes[list].size() : size * ivf->code_size);
    }
    if (auto fastScan = dynamic_cast<const faiss::IndexIVFPQFastScan*>(index)) {
      bytes += fastScan->pq.centroids.size() * sizeof(float) + fastScan->precomputed_table.size() * sizeof(float);
    }
    if (auto ivfpq = dynamic_cast<const faiss::IndexIVFPQ*>(index)) {
      bytes += ivfpq->pq.centroids.size() * sizeof(float) + ivfpq->precomputed_table.size() * sizeof(float);
    }
    return bytes;
  }
  if (auto pre = dynamic_cast<const faiss::IndexPreTransform*>(index)) {
    size_t bytes = EstimateBytes(pre->index);
    for (auto transform : pre->chain) {
      if (auto linear = dynamic_cast<const faiss::LinearTransform*>(transform)) {
        bytes += (linear->A.size() + linear->b.size()) * sizeof(float);
      }
    }
    return bytes;
  }
  // Unknown kind: count its codes at full precision as an upper bound.
  return static_cast<size_t>(index->ntotal) * index->d * sizeof(float);
}

const char* IndexKind(const faiss::Index* index) {
  if (auto idmap = dynamic_cast<const faiss::IndexIDMap*>(index)) return IndexKind(idmap->index);
  if (auto pre = dynamic_cast<const faiss::IndexPreTransform*>(index)) return IndexKind(pre->index);
  if (dynamic_cast<const faiss::IndexFlat*>(index)) return "flat";
  if (dynamic_cast<const faiss::IndexHNSW*>(index)) return "hnsw";
  if (dynamic_cast<const faiss::IndexIVF*>(index)) return "ivf";
  return "other";
}

std::string FaissMessage(const std::string& what) {
  static const std::regex preamble(R"(^Error in [\s\S]*? at [^ ]+:\d+: (Error: '[\s\S]*?' failed: )?)");
  std::string message = std::regex_replace(what, preamble, "", std::regex_constants::format_first_only);
  while (!message.empty() && (message.back() == ' ' || message.back() == '\n')) message.pop_back();
  return message;
}

std::vector<float> CopyFloats(const Napi::Value& value, const char* name) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(value.Env(), std::string("Expected Float32Array for ") + name);
  }
  auto array = value.As<Napi::Float32Array>();
  return std::vector<float>(array.Data(), array.Data() + array.ElementLength());
}

std::vector<int64_t> CopyIds(const Napi::Value& value, const char* name) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_bigint64_array) {
    throw Napi::TypeError::New(value.Env(), std::string("Expected BigInt64Array for ") + name);
  }
  auto array = value.As<Napi::TypedArrayOf<int64_t>>();
  return std::vector<int64_t>(array.Data(), array.Data() + array.ElementLength());
}

PromiseWorker::PromiseWorker(Napi::Env env, const char* name)
    : Napi::AsyncWorker(env, name), name_(name), deferred_(Napi::Promise::Deferred::New(env)) {}

Napi::Object SearchResult(Napi::Env env, const std::vector<float>& distances, const std::vector<int64_t>& ids) {
  auto distanceArray = Napi::Float32Array::New(env, distances.size());
  std::copy(distances.begin(), distances.end(), distanceArray.Data());
  auto idArray = Napi::TypedArrayOf<int64_t>::New(env, ids.size(), napi_bigint64_array);
  std::copy(ids.begin(), ids.end(), idArray.Data());
  auto result = Napi::Object::New(env);
  result.Set("distances", distanceArray);
  result.Set("ids", idArray);
  return result;
}

Napi::Promise PromiseWorker::QueueForPromise() {
  Napi::Promise promise = deferred_.Promise();
  Queue();
  return promise;
}

Napi::Value PromiseWorker::Result(Napi::Env env) { return env.Undefined(); }

void PromiseWorker::Execute() {
  try {
    ApplyThreads();
    Run();
  } catch (const faiss::FaissException& error) {
    SetError(name_ + " failed: " + FaissMessage(error.msg));
  } catch (const std::bad_alloc&) {
    SetError(name_ + " failed: out of memory");
  } catch (const std::exception& error) {
    SetError(name_ + " failed: " + error.what());
  } catch (...) {
    SetError(name_ + " failed: unknown native error");
  }
}

void PromiseWorker::OnOK() {
  Napi::HandleScope scope(Env());
  deferred_.Resolve(Result(Env()));
}

void PromiseWorker::OnError(const Napi::Error& error) {
  Napi::HandleScope scope(Env());
  deferred_.Reject(error.Value());
}

}  // namespace pixelfind
