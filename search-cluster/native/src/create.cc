#include "create.h"

#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexPQ.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/index_factory.h>
#include <faiss/impl/FaissException.h>

#include "common.h"
#include "index-object.h"

namespace pixelfind {

// The factory turns on polysemous training for PQ codes (seconds to minutes of extra training);
// it only serves Hamming-filtered polysemous search, which this addon never runs.
static void DisablePolysemousTraining(faiss::Index* index) {
  if (auto pre = dynamic_cast<faiss::IndexPreTransform*>(index)) return DisablePolysemousTraining(pre->index);
  if (auto ivfpq = dynamic_cast<faiss::IndexIVFPQ*>(index)) ivfpq->do_polysemous_training = false;
  if (auto pq = dynamic_cast<faiss::IndexPQ*>(index)) pq->do_polysemous_training = false;
}

// Graph build quality of an HNSW index, or of an IVF index's HNSW coarse quantizer.
static void SetEfConstruction(faiss::Index* index, int efConstruction) {
  if (auto pre = dynamic_cast<faiss::IndexPreTransform*>(index)) return SetEfConstruction(pre->index, efConstruction);
  if (auto ivf = dynamic_cast<faiss::IndexIVF*>(index)) return SetEfConstruction(ivf->quantizer, efConstruction);
  if (auto hnsw = dynamic_cast<faiss::IndexHNSW*>(index)) hnsw->hnsw.efConstruction = efConstruction;
}

Napi::Value Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsString()) {
    throw Napi::TypeError::New(env, "create(dimension: number, factory: string)");
  }
  int dimension = info[0].As<Napi::Number>().Int32Value();
  std::string factory = info[1].As<Napi::String>();
  faiss::Index* index = nullptr;
  try {
    index = faiss::index_factory(dimension, factory.c_str(), faiss::METRIC_INNER_PRODUCT);
  } catch (const faiss::FaissException& error) {
    throw Napi::Error::New(env, "Could not create index from factory string '" + factory + "': " + FaissMessage(error.msg));
  } catch (const std::exception& error) {
    throw Napi::Error::New(env, "Could not create index from factory string '" + factory + "': " + error.what());
  }
  DisablePolysemousTraining(index);
  if (info[2].IsNumber() && info[2].As<Napi::Number>().Int32Value() > 0) {
    SetEfConstruction(index, info[2].As<Napi::Number>().Int32Value());
  }
  return IndexObject::NewInstance(env, WrapIndex(index));
}

}  // namespace pixelfind
