// Helpers shared by the data tests: temp folders and small synthetic aclImdb trees.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>

#include "tests/common/temp_dir.h"
#include "trainer/data/data_error.h"

namespace rnn_dist::data::testing {

using rnn_dist::testing::TempDir;

inline void write_file(const std::string& path, std::string_view contents) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Writes a small aclImdb tree at `root` (2-3 reviews per split and label) and returns its path.
inline std::string write_small_aclimdb(const std::string& root) {
  const std::string dir = root + "/aclImdb";
  write_file(dir + "/train/pos/0_9.txt", "A great film. The best!<br /><br />Great.");
  write_file(dir + "/train/pos/10_8.txt", "the film was GREAT");
  write_file(dir + "/train/pos/2_7.txt", "Caf\xc3\xa9 scenes were great, the end.");
  write_file(dir + "/train/neg/1_1.txt", "The worst film. Bad, bad, bad.");
  write_file(dir + "/train/neg/3_4.txt", "not good; the plot was bad");
  write_file(dir + "/test/pos/0_10.txt", "Great acting, unseen words here.");
  write_file(dir + "/test/pos/5_7.txt", "the best");
  write_file(dir + "/test/neg/4_2.txt", "bad film");
  write_file(dir + "/test/neg/7_3.txt", "the worst");
  return dir;
}

// Expects `f` to throw DataError whose message contains every string in `needles`.
inline void expect_data_error(const std::function<void()>& f,
                              std::initializer_list<std::string_view> needles) {
  try {
    f();
    ADD_FAILURE() << "expected a DataError";
  } catch (const DataError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << "message is not one line: " << message;
    for (std::string_view needle : needles) {
      EXPECT_NE(message.find(needle), std::string::npos)
          << "message '" << message << "' does not contain '" << needle << "'";
    }
  }
}

}  // namespace rnn_dist::data::testing
