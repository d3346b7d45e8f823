#include "map-bytes.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace pixelfind {

Napi::Value MapBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "mapBytes(path: string)");
  std::string path = info[0].As<Napi::String>();
  auto fail = [&](const std::string& why) { return Napi::Error::New(env, "Mapping " + path + ": " + why); };
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw fail(std::strerror(errno));
  struct stat stats;
  if (fstat(fd, &stats) != 0) {
    int error = errno;
    close(fd);
    throw fail(std::strerror(error));
  }
  auto length = static_cast<size_t>(stats.st_size);
  if (length == 0) {
    close(fd);
    return Napi::ArrayBuffer::New(env, 0);
  }
  void* base = mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
  int error = errno;
  close(fd);
  if (base == MAP_FAILED) throw fail(std::string("mmap failed: ") + std::strerror(error));
  // Scans read scattered rows; read-ahead would only fill the page cache.
  madvise(base, length, MADV_RANDOM);
  return Napi::ArrayBuffer::New(
      env, base, length, [](Napi::Env, void* data, size_t* bytes) {
        munmap(data, *bytes);
        delete bytes;
      },
      new size_t(length));
}

}  // namespace pixelfind
