// Reading the Stanford aclImdb layout: <dir>/{train,test}/{pos,neg}/<id>_<rating>.txt.
// Works with the official aclImdb_v1 archive (extra files such as train/unsup, *.feat and
// urls_*.txt are ignored) and with the project's labeled copy.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rnn_dist::data {

struct ReviewFile {
  std::string path;
  uint32_t id = 0;     // the <id> of the file name
  uint8_t rating = 0;  // 1..10, the <rating> of the file name
  uint8_t label = 0;   // 1 = pos/, 0 = neg/
};

// Lists the reviews of `split` ("train" or "test") of the aclImdb folder `aclimdb_dir`: all of
// pos/ (label 1) then all of neg/ (label 0), each sorted by (id, file name). Files not ending in
// ".txt" are ignored. Throws DataError naming the path if the folder or split is missing, a label
// folder is missing or has no .txt file, or a .txt file name is not <id>_<rating>.txt with rating
// 1..10.
std::vector<ReviewFile> list_split(const std::string& aclimdb_dir, std::string_view split);

// Reads whole files with POSIX open/read into one reused buffer. Not thread-safe.
class FileReader {
 public:
  // Returns the contents of `path`, valid until the next call. Throws DataError naming the path
  // if it cannot be opened or read.
  std::string_view read(const std::string& path);

 private:
  std::string buffer_;
};

// A cheap summary of the source files, to decide whether a cached prepared file is still valid:
// file count, total bytes and newest modification time (ns) of the .txt files of train/ and test/
// pos/ and neg/, plus the tokenizer version. One stat per file; no file is read.
// Throws DataError like list_split.
std::string source_fingerprint(const std::string& aclimdb_dir);

// True if `dir` looks like an aclImdb folder (has train/ and test/ sub-folders).
bool is_aclimdb_dir(const std::string& dir);

// What `dir` lacks to be an aclImdb folder list_split can read, "" if nothing: the train/ and
// test/ folders, their pos/ and neg/ folders, a .txt file in each of those. `shown` is how the
// missing folders are named in the message (e.g. "" or "aclImdb/"). Looks at the file system
// only (a readdir up to the first .txt of each label folder); file names are checked later.
std::string aclimdb_layout_problem(const std::string& dir, const std::string& shown = "");

}  // namespace rnn_dist::data
