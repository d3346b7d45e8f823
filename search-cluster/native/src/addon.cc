// Registers the exports; every operation lives in its own file.
#include <napi.h>

#include "build-info.h"
#include "common.h"
#include "create.h"
#include "index-object.h"
#include "inner-products.h"
#include "live-rows.h"
#include "map-bytes.h"
#include "read.h"
#include "score-cells.h"
#include "score-rows.h"
#include "threads.h"
#include "vector-file.h"

namespace pixelfind {

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto data = new AddonData();
  Napi::Function indexClass = IndexObject::Define(env);
  Napi::Function vectorFileClass = VectorFileObject::Define(env);
  data->indexConstructor = Napi::Persistent(indexClass);
  data->vectorFileConstructor = Napi::Persistent(vectorFileClass);
  env.SetInstanceData(data);

  exports.Set("create", Napi::Function::New<Create>(env, "create"));
  exports.Set("read", Napi::Function::New<ReadFile>(env, "read"));
  exports.Set("fromBuffer", Napi::Function::New<ReadBuffer>(env, "fromBuffer"));
  exports.Set("openVectorFile", Napi::Function::New<OpenVectorFile>(env, "openVectorFile"));
  exports.Set("scoreRows", Napi::Function::New<ScoreRows>(env, "scoreRows"));
  exports.Set("innerProducts", Napi::Function::New<InnerProducts>(env, "innerProducts"));
  exports.Set("liveRows", Napi::Function::New<LiveRows>(env, "liveRows"));
  exports.Set("scoreCells", Napi::Function::New<ScoreCells>(env, "scoreCells"));
  exports.Set("mapBytes", Napi::Function::New<MapBytes>(env, "mapBytes"));
  exports.Set("setThreads", Napi::Function::New<SetThreads>(env, "setThreads"));
  exports.Set("getThreads", Napi::Function::New<GetThreads>(env, "getThreads"));
  exports.Set("avx2", Napi::Boolean::New(env, PIXELFIND_FAISS_AVX2 != 0));
  exports.Set("hnswHeapFixed", Napi::Boolean::New(env, HnswHeapFixed()));
  exports.Set("innerProductUnrolled", Napi::Boolean::New(env, InnerProductUnrolled()));
  return exports;
}

}  // namespace pixelfind

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return pixelfind::Init(env, exports); }

NODE_API_MODULE(pixelfind_faiss, InitAddon)
