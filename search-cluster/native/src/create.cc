#include "create.h"

#include <faiss/index_factory.h>
#include <faiss/impl/FaissException.h>

#include "common.h"
#include "index-object.h"

namespace pixelfind {

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
  return IndexObject::NewInstance(env, WrapIndex(index));
}

}  // namespace pixelfind
