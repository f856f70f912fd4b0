// The prepared dataset: both IMDB splits tokenised and encoded once, in one file that every rank
// maps read-only (the page cache is shared between the ranks of a node; a rank touches only the
// pages of the examples it reads).
//
// File layout (little-endian):
//   "RNNDPREP"                 8-byte magic
//   uint32 format version      kPreparedFormatVersion
//   uint64 header length H
//   H bytes                    pb::PreparedHeader, serialized
//   uint32 CRC-32 (zlib) of the H header bytes
//   zero padding to a multiple of 64 bytes: the data section starts here
//   data section (header.data_size bytes): per split, at the offsets of its SplitInfo (relative to
//   the data section, each a multiple of 64): labels uint8[n], ratings uint8[n],
//   row offsets uint64[n+1], tokens uint32[num_tokens]; SplitInfo.data_crc32 is the CRC-32 of the
//   four arrays in that order (padding excluded).
// Token ids are uncapped (rank + 3), each example starting with kStartId.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rnn_dist.pb.h"
#include "trainer/data/vocabulary.h"

namespace rnn_dist::data {

inline constexpr uint32_t kPreparedFormatVersion = 1;

// Tokenises the train and test splits of the aclImdb folder `aclimdb_dir`, builds the vocabulary
// from train, and writes the prepared file to `out_path`. Each split is stored in list_split's
// order (pos then neg, sorted by id). The file is written atomically: to "<out_path>.tmp.<pid>",
// flushed and fsync'ed, then renamed; on any error the temp file is removed, nothing is left at
// out_path (an existing file there is untouched) and DataError is thrown naming the path.
void prepare(const std::string& aclimdb_dir, const std::string& out_path);

// A read-only view of one split. Cheap to copy (a name and five pointers); valid while its
// PreparedDataset lives.
class SplitView {
 public:
  SplitView() = default;
  SplitView(std::string_view name, size_t size, const uint8_t* labels, const uint8_t* ratings,
            const uint64_t* row_offsets, const uint32_t* tokens)
      : name_(name),
        size_(size),
        labels_(labels),
        ratings_(ratings),
        row_offsets_(row_offsets),
        tokens_(tokens) {}

  std::string_view name() const { return name_; }
  size_t size() const { return size_; }
  // REQUIRES for the accessors below: i < size().
  uint8_t label(size_t i) const { return labels_[i]; }    // 1 = positive
  uint8_t rating(size_t i) const { return ratings_[i]; }  // 1..10
  size_t length(size_t i) const { return row_offsets_[i + 1] - row_offsets_[i]; }
  // Uncapped ids of example i, starting with kStartId: a view into the mapping, no copy.
  std::span<const uint32_t> tokens(size_t i) const {
    return {tokens_ + row_offsets_[i], length(i)};
  }
  uint64_t num_tokens() const { return size_ == 0 ? 0 : row_offsets_[size_]; }

 private:
  std::string name_;
  size_t size_ = 0;
  const uint8_t* labels_ = nullptr;
  const uint8_t* ratings_ = nullptr;
  const uint64_t* row_offsets_ = nullptr;
  const uint32_t* tokens_ = nullptr;
};

class PreparedDataset {
 public:
  // Maps `path` read-only and validates it completely: magic, format version, header CRC, sizes,
  // every split's offsets and row offsets, and every split's data CRC (about 50 MB for IMDB,
  // some tens of ms). Throws DataError with a one-line message naming the path: "not an rnn_dist
  // prepared dataset", "has format version N", "truncated", "checksum mismatch", ...
  explicit PreparedDataset(const std::string& path);
  ~PreparedDataset();
  PreparedDataset(PreparedDataset&& other) noexcept;
  PreparedDataset& operator=(PreparedDataset&& other) noexcept;
  PreparedDataset(const PreparedDataset&) = delete;
  PreparedDataset& operator=(const PreparedDataset&) = delete;

  const std::string& path() const { return path_; }
  const pb::PreparedHeader& header() const { return header_; }
  const Vocabulary& vocabulary() const { return vocabulary_; }
  // "train" or "test". Throws DataError naming the file if there is no such split.
  SplitView split(std::string_view name) const;

 private:
  void unmap();

  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  pb::PreparedHeader header_;
  Vocabulary vocabulary_;
  std::vector<SplitView> splits_;
};

// Reads and checks only the header of a prepared file (magic, version, header CRC). Returns false
// (and leaves `header` unspecified) if `path` is not a readable prepared file of this version.
bool read_prepared_header(const std::string& path, pb::PreparedHeader& header);

// Returns a prepared file for `data_path`:
// - a prepared file: returned as it is (PreparedDataset validates it when opened);
// - an aclImdb folder, or a folder holding aclImdb/: the cache file
//   "<parent of aclImdb>/aclImdb.rnn_dist" if that folder is writable, else
//   "$XDG_CACHE_HOME/rnn_dist/<hash of the absolute path>.rnn_dist" (default ~/.cache). The cache
//   is reused if it is valid and its source_fingerprint matches the folder's; otherwise it is
//   (re)prepared.
// Safe for concurrent callers (ranks of one node): an exclusive flock on "<cache>.lock" is held
// while checking and preparing. Throws DataError "no IMDB data at PATH: ..." if data_path is
// neither.
std::string ensure_prepared(const std::string& data_path);

// Why ensure_prepared cannot use `data_path`, "" if it can as far as the file system tells: it
// does not exist, cannot be read, is neither a file nor a folder, or is a folder that is not an
// aclImdb folder nor holds one (what is missing is named, see aclimdb_layout_problem). The
// contents of a file are checked when it is opened (PreparedDataset), not here.
std::string data_path_problem(const std::string& data_path);

}  // namespace rnn_dist::data
