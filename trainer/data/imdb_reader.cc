#include "trainer/data/imdb_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "trainer/data/data_error.h"
#include "trainer/data/tokenizer.h"

namespace rnn_dist::data {
namespace {

bool is_dir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Parses "<id>_<rating>.txt"; returns false if `name` is not of that form or rating is not 1..10.
bool parse_name(std::string_view name, uint32_t& id, uint8_t& rating) {
  constexpr std::string_view kExt = ".txt";
  const std::string_view stem = name.substr(0, name.size() - kExt.size());
  const size_t underscore = stem.find('_');
  if (underscore == std::string_view::npos || underscore == 0) return false;
  const char* begin = stem.data();
  const char* mid = begin + underscore;
  const char* end = begin + stem.size();
  auto [p1, e1] = std::from_chars(begin, mid, id);
  if (e1 != std::errc() || p1 != mid) return false;
  unsigned r = 0;
  auto [p2, e2] = std::from_chars(mid + 1, end, r);
  if (e2 != std::errc() || p2 != end || mid + 1 == end || r < 1 || r > 10) return false;
  rating = static_cast<uint8_t>(r);
  return true;
}

void list_label(const std::string& folder, uint8_t label, std::vector<ReviewFile>& out) {
  DIR* dir = ::opendir(folder.c_str());
  if (!dir) throw DataError("cannot open review folder " + folder + ": " + std::strerror(errno));
  std::vector<ReviewFile> files;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name.size() < 4 || name.substr(name.size() - 4) != ".txt") continue;
    ReviewFile file;
    file.path = folder + "/" + std::string(name);
    file.label = label;
    if (!parse_name(name, file.id, file.rating)) {
      ::closedir(dir);
      throw DataError("review file name is not <id>_<rating>.txt with rating 1..10: " + file.path);
    }
    files.push_back(std::move(file));
  }
  ::closedir(dir);
  if (files.empty()) throw DataError("review folder has no .txt files: " + folder);
  std::sort(files.begin(), files.end(), [](const ReviewFile& a, const ReviewFile& b) {
    return a.id != b.id ? a.id < b.id : a.path < b.path;
  });
  std::move(files.begin(), files.end(), std::back_inserter(out));
}

// True if `folder` holds at least one entry whose name ends in ".txt".
bool has_txt_file(const std::string& folder) {
  DIR* dir = ::opendir(folder.c_str());
  if (!dir) return false;
  bool found = false;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name.size() > 4 && name.substr(name.size() - 4) == ".txt") {
      found = true;
      break;
    }
  }
  ::closedir(dir);
  return found;
}

// "a", "a or b", "a, b or c".
std::string either(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i)
    out += (i == 0 ? "" : i + 1 == items.size() ? " or " : ", ") + items[i];
  return out;
}

}  // namespace

std::string aclimdb_layout_problem(const std::string& dir, const std::string& shown) {
  std::vector<std::string> missing, empty;
  for (const char* split : {"train", "test"}) {
    const std::string split_dir = dir + "/" + split;
    if (!is_dir(split_dir)) {
      missing.push_back(shown + split + "/");
      continue;
    }
    for (const char* label : {"pos", "neg"}) {
      const std::string folder = split_dir + "/" + label;
      if (!is_dir(folder)) missing.push_back(shown + split + "/" + label + "/");
      else if (!has_txt_file(folder)) empty.push_back(shown + split + "/" + label + "/");
    }
  }
  if (!missing.empty()) return "no " + either(missing) + " folder";
  if (!empty.empty()) return "no .txt review in " + either(empty);
  return "";
}

bool is_aclimdb_dir(const std::string& dir) {
  return is_dir(dir + "/train") && is_dir(dir + "/test");
}

std::vector<ReviewFile> list_split(const std::string& aclimdb_dir, std::string_view split) {
  if (!is_dir(aclimdb_dir)) throw DataError("aclImdb folder not found: " + aclimdb_dir);
  const std::string split_dir = aclimdb_dir + "/" + std::string(split);
  if (!is_dir(split_dir)) {
    throw DataError("aclImdb has no " + std::string(split) + "/ folder: " + split_dir);
  }
  std::vector<ReviewFile> files;
  for (const auto& [label_name, label] : {std::pair{"pos", uint8_t{1}}, {"neg", uint8_t{0}}}) {
    const std::string folder = split_dir + "/" + label_name;
    if (!is_dir(folder)) {
      throw DataError("aclImdb/" + std::string(split) + " has no " + label_name +
                      "/ folder: " + split_dir);
    }
    list_label(folder, label, files);
  }
  return files;
}

std::string_view FileReader::read(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw DataError("cannot open " + path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw DataError("cannot stat " + path + ": " + std::strerror(err));
  }
  size_t size = 0;
  buffer_.resize(std::max<size_t>(static_cast<size_t>(st.st_size) + 1, 4096));
  for (;;) {
    if (size == buffer_.size()) buffer_.resize(buffer_.size() * 2);  // file grew since fstat
    const ssize_t got = ::read(fd, buffer_.data() + size, buffer_.size() - size);
    if (got < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw DataError("cannot read " + path + ": " + std::strerror(err));
    }
    if (got == 0) break;
    size += static_cast<size_t>(got);
  }
  ::close(fd);
  return std::string_view(buffer_.data(), size);
}

std::string source_fingerprint(const std::string& aclimdb_dir) {
  uint64_t count = 0, bytes = 0;
  int64_t newest_ns = 0;
  for (const char* split : {"train", "test"}) {
    for (const auto& file : list_split(aclimdb_dir, split)) {
      struct stat st;
      if (::stat(file.path.c_str(), &st) != 0) {
        throw DataError("cannot stat " + file.path + ": " + std::strerror(errno));
      }
      ++count;
      bytes += static_cast<uint64_t>(st.st_size);
      const int64_t ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
      newest_ns = std::max(newest_ns, ns);
    }
  }
  return "files=" + std::to_string(count) + " bytes=" + std::to_string(bytes) +
         " newest_mtime_ns=" + std::to_string(newest_ns) +
         " tokenizer=" + std::to_string(kTokenizerVersion);
}

}  // namespace rnn_dist::data
