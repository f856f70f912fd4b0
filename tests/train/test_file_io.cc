// The atomic multi-file write every rnn_dist output goes through (history files, config.ini,
// exports): either all files are new, or all are as they were, and no temporary file is left.
#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <utility>

#include "tests/common/temp_dir.h"
#include "trainer/train/file_io.h"

namespace rnn_dist::train {
namespace {

namespace fs = std::filesystem;
using rnn_dist::testing::TempDir;
using Files = std::array<std::pair<std::string, std::string_view>, 2>;

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

int temporaries_in(const std::string& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    n += e.path().filename().string().find(".tmp.") != std::string::npos;
  return n;
}

TEST(WriteFilesAtomically, WritesEveryFileAndReplacesOldOnes) {
  TempDir dir;
  write_file_atomically(dir / "a", "old a");
  write_files_atomically(Files{{{dir / "a", "new a"}, {dir / "b", std::string_view("b\0b", 3)}}});
  EXPECT_EQ(read(dir / "a"), "new a");
  EXPECT_EQ(read(dir / "b"), std::string("b\0b", 3));
  EXPECT_EQ(temporaries_in(dir.path()), 0);
}

TEST(WriteFilesAtomically, AFailedFileLeavesEveryFileAsItWasAndNoTemporary) {
  TempDir dir;
  write_file_atomically(dir / "a", "old a");
  try {
    write_files_atomically(Files{{{dir / "a", "new a"}, {dir / "missing/b", "b"}}});
    ADD_FAILURE() << "a file in a missing folder was written";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot write " + (dir / "missing/b") +
                                         ": No such file or directory");
  }
  EXPECT_EQ(read(dir / "a"), "old a");
  EXPECT_EQ(temporaries_in(dir.path()), 0);
}

}  // namespace
}  // namespace rnn_dist::train
