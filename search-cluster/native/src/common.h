// Shared pieces of the addon: the index handle, the promise worker, typed-array copies.
#pragma once

#include <faiss/Index.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVFFastScan.h>
#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <memory>
#include <string>
#include <vector>

namespace pixelfind {

// A search parameter that FAISS 1.7.3 reads from the index itself rather than from per-call
// SearchParameters: HNSW sizes its candidate queue from the index's own efSearch (fixed in later
// releases), and IVF fast scan refuses SearchParameters altogether, so its nprobe is the member.
// Searches with the same value share the gate; one with another value waits until they finish.
struct ParameterGate {
  std::function<void(int)> apply;  // sets the member; empty when the index has no such member
  int defaultValue = 0;            // the index's own value when it was made or read
  std::mutex mutex;
  std::condition_variable idle;
  int current = 0;
  int active = 0;

  void Bind(std::function<void(int)> setter, int value) {
    apply = std::move(setter);
    defaultValue = current = value;
  }
};

// Holds a gate at one value for the lifetime of a search (or a write, at the default).
class ParameterLease {
 public:
  ParameterLease(ParameterGate& gate, int value);
  ~ParameterLease();
  ParameterLease(const ParameterLease&) = delete;
  ParameterLease& operator=(const ParameterLease&) = delete;

 private:
  ParameterGate* gate_;
};

// One FAISS index and how its ids are kept. Workers hold a shared_ptr, so close() or garbage
// collection of the JS object never frees an index that a queued call still uses.
struct IndexHandle {
  std::unique_ptr<faiss::Index> index;  // what is written, read, counted
  faiss::IndexIDMap* idmap = nullptr;   // set when the id map (not the index itself) keeps our ids
  ParameterGate efGate;                 // the HNSW graph's efSearch (the index or an IVF quantizer)
  ParameterGate nprobeGate;             // IVF fast scan's nprobe (other IVF kinds take it per call)
};

// Both gates at the index's own values: train, add and write see (and save) the defaults.
struct DefaultParameters {
  explicit DefaultParameters(IndexHandle& handle)
      : ef(handle.efGate, handle.efGate.defaultValue), nprobe(handle.nprobeGate, handle.nprobeGate.defaultValue) {}
  ParameterLease ef;
  ParameterLease nprobe;
};
using IndexRef = std::shared_ptr<IndexHandle>;

// Takes ownership. Indexes that cannot keep ids themselves (Flat, HNSW) are wrapped in an
// IndexIDMap; the IVF family keeps them natively (an id map over IVF breaks on remove).
IndexRef WrapIndex(faiss::Index* index);

// The IVF fast-scan index inside `index` (through a pre-transform), or null.
faiss::IndexIVFFastScan* FindFastScan(faiss::Index* index);

// Resident bytes of the index data, estimated from its containers (no serialisation).
size_t EstimateBytes(const faiss::Index* index);

// Short name of the index kind: flat, hnsw, ivf or other.
const char* IndexKind(const faiss::Index* index);

// FAISS's message without its "Error in <function> at <file>:<line>:" preamble.
std::string FaissMessage(const std::string& what);

// Process-wide OpenMP team size (0: OpenMP's default). Each libuv worker has its own OpenMP
// state, so every worker applies it before calling FAISS.
extern std::atomic<int> g_threads;
void ApplyThreads();

// Copies so that Execute() on the worker thread never touches JavaScript memory.
std::vector<float> CopyFloats(const Napi::Value& value, const char* name);
std::vector<int64_t> CopyIds(const Napi::Value& value, const char* name);

// Base of every slow call: Run() on the libuv pool, the result resolves a promise, and any
// exception (faiss::FaissException, std::bad_alloc, ...) rejects it instead of crashing.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, const char* name);
  Napi::Promise QueueForPromise();

 protected:
  virtual void Run() = 0;
  virtual Napi::Value Result(Napi::Env env);

 private:
  void Execute() final;
  void OnOK() final;
  void OnError(const Napi::Error& error) final;

  std::string name_;
  Napi::Promise::Deferred deferred_;
};

// A promise worker over one index and one array copied from JavaScript (train: vectors,
// remove: ids); Run() reads only handle_ and input_.
template <typename T>
class IndexInputWorker : public PromiseWorker {
 public:
  IndexInputWorker(Napi::Env env, const char* name, IndexRef handle, std::vector<T> input)
      : PromiseWorker(env, name), handle_(std::move(handle)), input_(std::move(input)) {}

 protected:
  IndexRef handle_;
  std::vector<T> input_;
};

// { distances: Float32Array, ids: BigInt64Array }, what every search resolves to.
Napi::Object SearchResult(Napi::Env env, const std::vector<float>& distances, const std::vector<int64_t>& ids);

// Per-environment data: the constructors that workers use to wrap their results.
struct AddonData {
  Napi::FunctionReference indexConstructor;
  Napi::FunctionReference vectorFileConstructor;
};

}  // namespace pixelfind
