#include "vector-file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common.h"
#include "rescore.h"
#include "score-cells.h"

namespace pixelfind {

namespace {
constexpr char kMagic[8] = {'P', 'X', 'V', 'E', 'C', 'F', '0', '1'};
constexpr size_t kHeaderBytes = 32;
}  // namespace

MappedVectors::~MappedVectors() {
  if (base) munmap(base, length);
}

int64_t MappedVectors::RowOf(int64_t id) const {
  const int64_t* end = ids + count;
  const int64_t* at = std::lower_bound(ids, end, id);
  return at != end && *at == id ? at - ids : -1;
}

static MappedRef Map(Napi::Env env, const std::string& path) {
  auto fail = [&](const std::string& why) { return Napi::Error::New(env, "Vector file " + path + ": " + why); };
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw fail(std::strerror(errno));
  struct stat info;
  if (fstat(fd, &info) != 0) {
    close(fd);
    throw fail(std::strerror(errno));
  }
  auto length = static_cast<size_t>(info.st_size);
  if (length < kHeaderBytes) {
    close(fd);
    throw fail("too short for a header (corrupt or not a vector file)");
  }
  void* base = mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (base == MAP_FAILED) throw fail(std::string("mmap failed: ") + std::strerror(errno));
  auto mapped = std::make_shared<MappedVectors>();
  mapped->base = base;
  mapped->length = length;
  // Re-scoring reads scattered rows; read-ahead would only fill the page cache.
  madvise(base, length, MADV_RANDOM);

  auto bytes = static_cast<const uint8_t*>(base);
  if (std::memcmp(bytes, kMagic, sizeof kMagic) != 0) throw fail("bad magic (corrupt or not a vector file)");
  uint32_t dimension;
  uint64_t count;
  std::memcpy(&dimension, bytes + 8, sizeof dimension);
  std::memcpy(&count, bytes + 16, sizeof count);
  if (dimension == 0 || dimension > 65536 || count > (uint64_t{1} << 40) ||
      length != kHeaderBytes + count * sizeof(int64_t) + count * dimension * sizeof(float)) {
    throw fail("size does not match its header (corrupt or truncated)");
  }
  mapped->dimension = static_cast<int>(dimension);
  mapped->count = static_cast<int64_t>(count);
  mapped->ids = reinterpret_cast<const int64_t*>(bytes + kHeaderBytes);
  mapped->vectors = reinterpret_cast<const float*>(bytes + kHeaderBytes + count * sizeof(int64_t));
  for (int64_t i = 1; i < mapped->count; i++) {
    if (mapped->ids[i] <= mapped->ids[i - 1]) throw fail("ids are not strictly ascending (corrupt)");
  }
  return mapped;
}

Napi::Function VectorFileObject::Define(Napi::Env env) {
  return DefineClass(env, "NativeVectorFile",
                     {
                         InstanceMethod<&VectorFileObject::Rescore>("rescore"),
                         InstanceMethod<&VectorFileObject::ScoreCells>("scoreCells"),
                         InstanceMethod<&VectorFileObject::Close>("close"),
                         InstanceAccessor<&VectorFileObject::GetCount>("count"),
                         InstanceAccessor<&VectorFileObject::GetDimension>("dimension"),
                     });
}

VectorFileObject::VectorFileObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<VectorFileObject>(info) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "Expected string for path");
  mapped_ = Map(info.Env(), info[0].As<Napi::String>());
}

MappedRef VectorFileObject::Mapped(Napi::Env env) const {
  if (!mapped_) throw Napi::Error::New(env, "The vector file is closed");
  return mapped_;
}

MappedRef VectorFileObject::MappedOf(Napi::Env env, const Napi::Value& value, const char* name) {
  const auto& constructor = env.GetInstanceData<AddonData>()->vectorFileConstructor;
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(constructor.Value()))
    throw Napi::TypeError::New(env, std::string("Expected a NativeVectorFile for ") + name);
  return Unwrap(value.As<Napi::Object>())->Mapped(env);
}

Napi::Value VectorFileObject::Rescore(const Napi::CallbackInfo& info) {
  return QueueRescore(info.Env(), Mapped(info.Env()), info[0], info[1], info[2]);
}

Napi::Value VectorFileObject::ScoreCells(const Napi::CallbackInfo& info) {
  return QueueScoreCells(info, Mapped(info.Env()));
}

Napi::Value VectorFileObject::Close(const Napi::CallbackInfo& info) {
  // Queued re-scorings keep the mapping alive until they finish.
  mapped_.reset();
  return info.Env().Undefined();
}

Napi::Value VectorFileObject::GetCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(Mapped(info.Env())->count));
}

Napi::Value VectorFileObject::GetDimension(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Mapped(info.Env())->dimension);
}

Napi::Value OpenVectorFile(const Napi::CallbackInfo& info) {
  return info.Env().GetInstanceData<AddonData>()->vectorFileConstructor.New({info[0]});
}

}  // namespace pixelfind
