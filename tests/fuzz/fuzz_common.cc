#include "tests/fuzz/fuzz_common.h"

#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace rnn_dist::fuzz {

const std::string& scratch_file() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    std::string p = std::string(dir && *dir ? dir : "/tmp") + "/rnn_dist_fuzz." +
                    std::to_string(::getpid()) + ".rnnd";
    static std::string at_exit_path;
    at_exit_path = p;
    std::atexit([] { std::remove(at_exit_path.c_str()); });
    return p;
  }();
  return path;
}

void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "fuzz harness: cannot write %s\n", path.c_str());
    std::abort();
  }
}

std::string frame(std::string_view payload, std::uint32_t version) {
  std::string out = "RNNDCKPT";
  const std::uint64_t n = payload.size();
  const auto crc = static_cast<std::uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(n)));
  out.append(reinterpret_cast<const char*>(&version), sizeof version);
  out.append(reinterpret_cast<const char*>(&n), sizeof n);
  out.append(payload);
  out.append(reinterpret_cast<const char*>(&crc), sizeof crc);
  return out;
}

}  // namespace rnn_dist::fuzz
