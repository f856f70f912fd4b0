// Small POSIX file helpers shared by the writers in train/.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace rnn_dist::train {

// Writes all of `data` to fd, retrying after EINTR and short writes; false on any other error
// (errno set).
bool write_all(int fd, std::string_view data);

// The files of one output (history.csv and history.jsonl, an export's model and vocabulary):
// each (path, bytes) is written to a temporary file beside it ("<path>.tmp.<pid>") and fsync'd,
// then the temporaries are renamed over the paths in order, so put the file that readers look
// for first last. A failed write removes every temporary and leaves every path as it was (no
// half-written file, no earlier file lost); throws std::runtime_error "cannot write <path>:
// <reason>". Only a rename failing after others succeeded (the folder changing under the call)
// leaves the earlier paths new and the later ones old.
void write_files_atomically(std::span<const std::pair<std::string, std::string_view>> files);
void write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace rnn_dist::train
