// ensure_prepared: finding or (re)building the prepared cache of an aclImdb folder.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include "trainer/data/data_error.h"
#include "trainer/data/imdb_reader.h"
#include "trainer/data/prepared_dataset.h"

namespace rnn_dist::data {
namespace {

namespace fs = std::filesystem;

// Holds an exclusive flock on a lock file for its lifetime.
class FileLock {
 public:
  explicit FileLock(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw DataError("cannot create lock file " + path + ": " + std::strerror(errno));
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        const int err = errno;
        ::close(fd_);
        throw DataError("cannot lock " + path + ": " + std::strerror(err));
      }
    }
  }
  ~FileLock() { ::close(fd_); }  // closing releases the lock
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

std::string fnv1a_hex(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  std::ostringstream out;
  out << std::hex << std::setw(16) << std::setfill('0') << h;
  return out.str();
}

std::string cache_path_for(const fs::path& aclimdb) {
  const fs::path parent = aclimdb.parent_path();
  if (::access(parent.c_str(), W_OK) == 0) {
    return (parent / (aclimdb.filename().string() + ".rnn_dist")).string();
  }
  fs::path base;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    base = xdg;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    base = fs::path(home) / ".cache";
  } else {
    throw DataError("cannot place the prepared cache of " + aclimdb.string() +
                    ": its folder is read-only and neither XDG_CACHE_HOME nor HOME is set");
  }
  const fs::path dir = base / "rnn_dist";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw DataError("cannot create cache folder " + dir.string() + ": " + ec.message());
  return (dir / (fnv1a_hex(aclimdb.string()) + ".rnn_dist")).string();
}

}  // namespace

std::string ensure_prepared(const std::string& data_path) {
  std::error_code ec;
  const fs::file_status status = fs::status(data_path, ec);
  if (fs::is_regular_file(status)) return data_path;
  fs::path aclimdb;
  if (fs::is_directory(status)) {
    if (is_aclimdb_dir(data_path)) {
      aclimdb = data_path;
    } else if (is_aclimdb_dir(data_path + "/aclImdb")) {
      aclimdb = fs::path(data_path) / "aclImdb";
    }
  }
  if (aclimdb.empty()) {
    throw DataError("no IMDB data at " + data_path +
                    ": run launch/get_imdb.sh to fetch it, or pass --data");
  }
  aclimdb = fs::canonical(aclimdb, ec);
  if (ec) throw DataError("cannot resolve " + data_path + ": " + ec.message());

  const std::string cache = cache_path_for(aclimdb);
  FileLock lock(cache + ".lock");
  const std::string fingerprint = source_fingerprint(aclimdb.string());
  pb::PreparedHeader header;
  if (read_prepared_header(cache, header) && header.source_fingerprint() == fingerprint) {
    try {
      PreparedDataset check(cache);  // full validation: a damaged cache is rebuilt
      return cache;
    } catch (const DataError&) {
    }
  }
  prepare(aclimdb.string(), cache);
  return cache;
}

std::string data_path_problem(const std::string& data_path) {
  static const std::string kExpected =
      " (expected an aclImdb folder with train/pos, train/neg, test/pos and test/neg holding "
      "<id>_<rating>.txt reviews, a folder holding aclImdb/, or a file made by rnn_dist prepare)";
  std::error_code ec;
  const fs::file_status status = fs::status(data_path, ec);
  if (!fs::exists(status)) return "no such file or folder";
  if (::access(data_path.c_str(), R_OK) != 0)
    return std::string("cannot be read: ") + std::strerror(errno);
  if (fs::is_regular_file(status)) return "";
  if (!fs::is_directory(status)) return "is neither a file nor a folder" + kExpected;
  // A folder holding aclImdb/ (and no train/ or test/ of its own) is judged by that aclImdb/.
  const std::string inner = data_path + "/aclImdb";
  const bool own = fs::exists(data_path + "/train", ec) || fs::exists(data_path + "/test", ec);
  const std::string problem = !own && fs::is_directory(inner, ec)
                                  ? aclimdb_layout_problem(inner, "aclImdb/")
                                  : aclimdb_layout_problem(data_path);
  return problem.empty() ? "" : problem + kExpected;
}

}  // namespace rnn_dist::data
