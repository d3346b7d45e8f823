#include "threads.h"

#include <omp.h>

#include "common.h"

extern "C" void openblas_set_num_threads(int threads);

namespace pixelfind {

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "Expected number for threads");
  int threads = info[0].As<Napi::Number>().Int32Value();
  g_threads.store(threads > 0 ? threads : 0);
  openblas_set_num_threads(threads > 0 ? threads : omp_get_num_procs());
  return info.Env().Undefined();
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  int threads = g_threads.load();
  return Napi::Number::New(info.Env(), threads > 0 ? threads : omp_get_max_threads());
}

}  // namespace pixelfind
