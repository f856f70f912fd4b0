#include "trainer/data/prepared_dataset.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "trainer/data/data_error.h"
#include "trainer/data/format.h"
#include "trainer/data/imdb_reader.h"
#include "trainer/data/tokenizer.h"

namespace rnn_dist::data {
namespace {

static_assert(std::endian::native == std::endian::little, "prepared files are little-endian");

// One split, encoded in memory before it is written.
struct EncodedSplit {
  std::string name;
  std::vector<uint8_t> labels, ratings;
  std::vector<uint64_t> row_offsets{0};
  std::vector<uint32_t> tokens;
};

// Reads and tokenises every review of `files`, calling on_word(word) for each word to get its id.
template <typename WordToId>
EncodedSplit encode_split(std::string name, const std::vector<ReviewFile>& files,
                          const pb::TokenizerOptions& options, WordToId&& on_word) {
  EncodedSplit out;
  out.name = std::move(name);
  out.labels.reserve(files.size());
  out.ratings.reserve(files.size());
  out.row_offsets.reserve(files.size() + 1);
  FileReader reader;
  std::vector<std::string> words;
  for (const auto& file : files) {
    const std::string_view text = reader.read(file.path);
    tokenize(text, options, words, file.path);
    if (words.empty()) throw DataError("empty review (no words): " + file.path);
    out.tokens.push_back(kStartId);
    for (const auto& w : words) out.tokens.push_back(on_word(w));
    out.labels.push_back(file.label);
    out.ratings.push_back(file.rating);
    out.row_offsets.push_back(out.tokens.size());
  }
  return out;
}

template <typename T>
uint32_t crc_of(uint32_t crc, const std::vector<T>& v) {
  return static_cast<uint32_t>(
      crc32_z(crc, reinterpret_cast<const Bytef*>(v.data()), v.size() * sizeof(T)));
}

// Removes the temp file unless commit() renamed it into place.
class AtomicFile {
 public:
  AtomicFile(std::string final_path)
      : final_(std::move(final_path)), temp_(final_ + ".tmp." + std::to_string(::getpid())) {
    file_ = std::fopen(temp_.c_str(), "wb");
    if (!file_) fail("cannot create");
  }
  ~AtomicFile() {
    if (file_) std::fclose(file_);
    if (!committed_) std::remove(temp_.c_str());
  }
  void write(const void* data, size_t bytes) {
    if (bytes > 0 && std::fwrite(data, 1, bytes, file_) != bytes) fail("cannot write");
  }
  void pad_to(uint64_t& position, uint64_t target) {
    static const char zeros[kAlignment] = {};
    write(zeros, target - position);
    position = target;
  }
  void commit() {
    if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) fail("cannot flush");
    FILE* f = file_;
    file_ = nullptr;
    if (std::fclose(f) != 0) fail("cannot close");
    if (std::rename(temp_.c_str(), final_.c_str()) != 0) fail("cannot rename into place");
    committed_ = true;
    sync_parent_dir(final_);
  }

 private:
  [[noreturn]] void fail(const char* what) {
    throw DataError(std::string(what) + " prepared dataset " + temp_ + ": " + std::strerror(errno));
  }
  static void sync_parent_dir(const std::string& path) {
    const size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      ::fsync(fd);  // best effort: the rename is already visible
      ::close(fd);
    }
  }

  std::string final_, temp_;
  FILE* file_ = nullptr;
  bool committed_ = false;
};

}  // namespace

void prepare(const std::string& aclimdb_dir, const std::string& out_path) {
  const pb::TokenizerOptions options = default_tokenizer_options();
  const std::string fingerprint = source_fingerprint(aclimdb_dir);
  const auto train_files = list_split(aclimdb_dir, "train");
  const auto test_files = list_split(aclimdb_dir, "test");

  // Train: provisional ids while counting, remapped to ranks once the vocabulary is known.
  VocabularyCounter counter;
  EncodedSplit train = encode_split("train", train_files, options,
                                    [&](const std::string& w) { return counter.add(w); });
  std::vector<uint32_t> final_ids;
  Vocabulary vocabulary = counter.finish(&final_ids);
  for (size_t i = 0; i < train.labels.size(); ++i) {
    for (uint64_t t = train.row_offsets[i] + 1; t < train.row_offsets[i + 1]; ++t) {
      train.tokens[t] = final_ids[train.tokens[t]];
    }
  }
  EncodedSplit test = encode_split("test", test_files, options,
                                   [&](const std::string& w) { return vocabulary.id(w); });

  pb::PreparedHeader header;
  header.set_format_version(kPreparedFormatVersion);
  header.set_source(aclimdb_dir);
  header.set_source_fingerprint(fingerprint);
  *header.mutable_tokenizer() = options;
  *header.mutable_vocabulary() = vocabulary.to_proto();
  uint64_t cursor = 0;
  const auto place = [&](uint64_t bytes) {
    cursor = align_up(cursor);
    const uint64_t offset = cursor;
    cursor += bytes;
    return offset;
  };
  for (const EncodedSplit* s : {&train, &test}) {
    pb::SplitInfo* info = header.add_splits();
    info->set_name(s->name);
    info->set_num_examples(s->labels.size());
    info->set_num_tokens(s->tokens.size());
    info->set_labels_offset(place(s->labels.size()));
    info->set_ratings_offset(place(s->ratings.size()));
    info->set_row_offsets_offset(place(s->row_offsets.size() * sizeof(uint64_t)));
    info->set_tokens_offset(place(s->tokens.size() * sizeof(uint32_t)));
    uint32_t crc = static_cast<uint32_t>(crc32_z(0, nullptr, 0));
    crc = crc_of(crc, s->labels);
    crc = crc_of(crc, s->ratings);
    crc = crc_of(crc, s->row_offsets);
    crc = crc_of(crc, s->tokens);
    info->set_data_crc32(crc);
  }
  header.set_data_size(cursor);

  std::string header_bytes;
  if (!header.SerializeToString(&header_bytes)) {
    throw DataError("cannot serialize the prepared dataset header for " + out_path);
  }
  AtomicFile out(out_path);
  uint64_t position = 0;
  const uint32_t version = kPreparedFormatVersion;
  const uint64_t header_length = header_bytes.size();
  const uint32_t header_crc = static_cast<uint32_t>(
      crc32_z(0, reinterpret_cast<const Bytef*>(header_bytes.data()), header_bytes.size()));
  out.write(kPreparedMagic.data(), kPreparedMagic.size());
  out.write(&version, sizeof version);
  out.write(&header_length, sizeof header_length);
  out.write(header_bytes.data(), header_bytes.size());
  out.write(&header_crc, sizeof header_crc);
  position = kFixedPrefixBytes + header_length + sizeof header_crc;
  out.pad_to(position, align_up(position));
  uint64_t data_position = 0;  // relative to the data section
  const auto put = [&](const auto& v, uint64_t offset) {
    out.pad_to(data_position, offset);
    out.write(v.data(), v.size() * sizeof(v[0]));
    data_position += v.size() * sizeof(v[0]);
  };
  for (int k = 0; k < 2; ++k) {
    const EncodedSplit& s = k == 0 ? train : test;
    const pb::SplitInfo& info = header.splits(k);
    put(s.labels, info.labels_offset());
    put(s.ratings, info.ratings_offset());
    put(s.row_offsets, info.row_offsets_offset());
    put(s.tokens, info.tokens_offset());
  }
  out.commit();
}

}  // namespace rnn_dist::data
