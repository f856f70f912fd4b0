// PreparedDataset: mapping and validating a prepared file (the writer is prepared_dataset.cc).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "trainer/data/data_error.h"
#include "trainer/data/format.h"
#include "trainer/data/prepared_dataset.h"

namespace rnn_dist::data {
namespace {

uint32_t crc_of(uint32_t crc, const uint8_t* data, uint64_t bytes) {
  return static_cast<uint32_t>(crc32_z(crc, data, bytes));
}

// True if count elements of elem_bytes each, at offset, fit in [0, limit) without overflow.
bool fits(uint64_t offset, uint64_t count, uint64_t elem_bytes, uint64_t limit) {
  return count <= limit / elem_bytes && offset <= limit - count * elem_bytes;
}

// The parts of a file's prefix; `error` is empty if the prefix and header are valid.
struct Prefix {
  uint64_t header_length = 0;
  uint64_t data_start = 0;
  std::string error;
};

Prefix check_prefix(const std::string& path, const uint8_t* bytes, uint64_t size,
                    pb::PreparedHeader& header) {
  Prefix p;
  if (size < kPreparedMagic.size() ||
      std::memcmp(bytes, kPreparedMagic.data(), kPreparedMagic.size()) != 0) {
    p.error = "not an rnn_dist prepared dataset: " + path;
    return p;
  }
  if (size < kFixedPrefixBytes) {
    p.error = "prepared dataset " + path + " is truncated (" + std::to_string(size) + " bytes)";
    return p;
  }
  uint32_t version;
  std::memcpy(&version, bytes + 8, sizeof version);
  if (version != kPreparedFormatVersion) {
    p.error = "prepared dataset " + path + " has format version " + std::to_string(version) +
              "; this build reads " + std::to_string(kPreparedFormatVersion) +
              " (re-run rnn_dist prepare)";
    return p;
  }
  std::memcpy(&p.header_length, bytes + 12, sizeof p.header_length);
  if (!fits(kFixedPrefixBytes, p.header_length + 4, 1, size) || p.header_length > size) {
    p.error = "prepared dataset " + path + " is truncated: header of " +
              std::to_string(p.header_length) + " bytes, file of " + std::to_string(size);
    return p;
  }
  const uint8_t* header_bytes = bytes + kFixedPrefixBytes;
  uint32_t stored_crc;
  std::memcpy(&stored_crc, header_bytes + p.header_length, sizeof stored_crc);
  if (crc_of(0, header_bytes, p.header_length) != stored_crc) {
    p.error = "prepared dataset " + path + " is damaged: header checksum mismatch";
    return p;
  }
  if (!header.ParseFromArray(header_bytes, static_cast<int>(p.header_length)) ||
      header.format_version() != kPreparedFormatVersion) {
    p.error = "prepared dataset " + path + " is damaged: cannot parse its header";
    return p;
  }
  p.data_start = align_up(kFixedPrefixBytes + p.header_length + 4);
  return p;
}

// RAII file descriptor.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

PreparedDataset::PreparedDataset(const std::string& path) : path_(path) {
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0)
    throw DataError("cannot open prepared dataset " + path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(file.fd, &st) != 0) {
    throw DataError("cannot stat prepared dataset " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode) || st.st_size == 0) {
    throw DataError("not an rnn_dist prepared dataset: " + path);
  }
  map_size_ = static_cast<size_t>(st.st_size);
  map_ = ::mmap(nullptr, map_size_, PROT_READ, MAP_PRIVATE, file.fd, 0);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    throw DataError("cannot map prepared dataset " + path + ": " + std::strerror(errno));
  }
  try {
    const auto* bytes = static_cast<const uint8_t*>(map_);
    const Prefix prefix = check_prefix(path, bytes, map_size_, header_);
    if (!prefix.error.empty()) throw DataError(prefix.error);
    const uint64_t data_size = header_.data_size();
    if (!fits(prefix.data_start, data_size, 1, map_size_)) {
      throw DataError("prepared dataset " + path + " is truncated: " + std::to_string(map_size_) +
                      " bytes, header says " + std::to_string(prefix.data_start + data_size));
    }
    if (prefix.data_start + data_size != map_size_) {
      throw DataError("prepared dataset " + path +
                      " is damaged: " + std::to_string(map_size_ - prefix.data_start - data_size) +
                      " unexpected bytes at its end");
    }
    try {
      vocabulary_ = Vocabulary::from_proto(header_.vocabulary());
    } catch (const DataError& e) {
      throw DataError("prepared dataset " + path + ": " + e.what());
    }
    const uint8_t* data = bytes + prefix.data_start;
    for (const pb::SplitInfo& info : header_.splits()) {
      const uint64_t n = info.num_examples(), num_tokens = info.num_tokens();
      const std::string where = "prepared dataset " + path + " split '" + info.name() + "'";
      if (!fits(info.labels_offset(), n, 1, data_size) ||
          !fits(info.ratings_offset(), n, 1, data_size) || n == UINT64_MAX ||
          !fits(info.row_offsets_offset(), n + 1, 8, data_size) ||
          !fits(info.tokens_offset(), num_tokens, 4, data_size) ||
          info.row_offsets_offset() % 8 != 0 || info.tokens_offset() % 4 != 0) {
        throw DataError(where + " has arrays outside the file (damaged)");
      }
      uint32_t crc = crc_of(0, nullptr, 0);
      crc = crc_of(crc, data + info.labels_offset(), n);
      crc = crc_of(crc, data + info.ratings_offset(), n);
      crc = crc_of(crc, data + info.row_offsets_offset(), (n + 1) * 8);
      crc = crc_of(crc, data + info.tokens_offset(), num_tokens * 4);
      if (crc != info.data_crc32()) throw DataError(where + " is damaged: data checksum mismatch");
      SplitView view(info.name(), n, data + info.labels_offset(), data + info.ratings_offset(),
                     reinterpret_cast<const uint64_t*>(data + info.row_offsets_offset()),
                     reinterpret_cast<const uint32_t*>(data + info.tokens_offset()));
      // Row offsets must be a non-decreasing walk from 0 to num_tokens, so tokens(i) stays inside.
      const auto* rows = reinterpret_cast<const uint64_t*>(data + info.row_offsets_offset());
      bool ok = rows[0] == 0 && rows[n] == num_tokens;
      for (uint64_t i = 0; ok && i < n; ++i) ok = rows[i] <= rows[i + 1] && view.label(i) <= 1;
      if (!ok) throw DataError(where + " has inconsistent row offsets or labels (damaged)");
      splits_.push_back(view);
    }
  } catch (...) {
    unmap();
    throw;
  }
}

PreparedDataset::~PreparedDataset() { unmap(); }

PreparedDataset::PreparedDataset(PreparedDataset&& other) noexcept
    : path_(std::move(other.path_)),
      map_(std::exchange(other.map_, nullptr)),
      map_size_(std::exchange(other.map_size_, 0)),
      header_(std::move(other.header_)),
      vocabulary_(std::move(other.vocabulary_)),
      splits_(std::move(other.splits_)) {}

PreparedDataset& PreparedDataset::operator=(PreparedDataset&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    map_ = std::exchange(other.map_, nullptr);
    map_size_ = std::exchange(other.map_size_, 0);
    header_ = std::move(other.header_);
    vocabulary_ = std::move(other.vocabulary_);
    splits_ = std::move(other.splits_);
  }
  return *this;
}

void PreparedDataset::unmap() {
  if (map_) ::munmap(map_, map_size_);
  map_ = nullptr;
  map_size_ = 0;
}

SplitView PreparedDataset::split(std::string_view name) const {
  for (const auto& s : splits_) {
    if (s.name() == name) return s;
  }
  throw DataError("prepared dataset " + path_ + " has no split '" + std::string(name) + "'");
}

bool read_prepared_header(const std::string& path, pb::PreparedHeader& header) {
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) return false;
  std::string prefix(kFixedPrefixBytes, '\0');
  if (::pread(file.fd, prefix.data(), prefix.size(), 0) != static_cast<ssize_t>(prefix.size())) {
    return false;
  }
  uint64_t header_length;
  std::memcpy(&header_length, prefix.data() + 12, sizeof header_length);
  if (header_length > (uint64_t{1} << 31)) return false;
  std::string bytes(kFixedPrefixBytes + header_length + 4, '\0');
  if (::pread(file.fd, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
    return false;
  }
  return check_prefix(path, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), header)
      .error.empty();
}

}  // namespace rnn_dist::data
