// Checks on the real IMDB data. Skipped (with a message) when the archive is not in
// RNN_DIST_SHARED_DATA. The extracted copy and the prepared file live under the build folder and
// are reused between runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>

#include "trainer/data/encoding.h"
#include "trainer/data/prepared_dataset.h"

namespace rnn_dist::data {
namespace {

namespace fs = std::filesystem;

class RealImdb : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string archive = std::string(RNN_DIST_SHARED_DATA) + "/aclImdb_labeled.tar.gz";
    if (!fs::exists(archive)) {
      skip_reason_ = "no IMDB archive at " + archive;
      return;
    }
    const std::string dest = std::string(RNN_DIST_BINARY_DIR) + "/test_data_imdb";
    const std::string command = "IMDB_ARCHIVE='" + archive +
                                "' bash '" RNN_DIST_SOURCE_DIR "/launch/get_imdb.sh' '" + dest +
                                "'";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    dataset_ = std::make_unique<PreparedDataset>(ensure_prepared(dest));
  }
  static void TearDownTestSuite() { dataset_.reset(); }
  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    ASSERT_TRUE(dataset_);
  }

  static inline std::string skip_reason_;
  static inline std::unique_ptr<PreparedDataset> dataset_;
};

TEST_F(RealImdb, Has12500ReviewsPerLabelPerSplit) {
  for (const char* name : {"train", "test"}) {
    const SplitView split = dataset_->split(name);
    ASSERT_EQ(split.size(), 25000u) << name;
    size_t positive = 0;
    for (size_t i = 0; i < split.size(); ++i) {
      positive += split.label(i);
      // The dataset's own rule: neg <= 4, pos >= 7.
      if (split.label(i) == 1) {
        EXPECT_GE(split.rating(i), 7);
      } else {
        EXPECT_LE(split.rating(i), 4);
      }
    }
    EXPECT_EQ(positive, 12500u) << name;
  }
}

TEST_F(RealImdb, MostFrequentWordsComeFirst) {
  const Vocabulary& v = dataset_->vocabulary();
  std::cout << "[ vocab    ] " << v.size() << " distinct words; first ten:";
  for (uint32_t id = 4; id < 14; ++id) std::cout << ' ' << v.word(id);
  std::cout << '\n';
  for (const char* word : {"the", "and", "a", "of", "to"}) {
    EXPECT_LT(v.id(word), 4u + 6u) << word << " has id " << v.id(word);
  }
  EXPECT_EQ(v.id("the"), 4u);
}

TEST_F(RealImdb, EverySequenceStartsWithTheStartMarker) {
  for (const char* name : {"train", "test"}) {
    const SplitView split = dataset_->split(name);
    for (size_t i = 0; i < split.size(); ++i) {
      ASSERT_GE(split.length(i), 2u) << name << " " << i;
      ASSERT_EQ(split.tokens(i)[0], kStartId) << name << " " << i;
      const auto rest = split.tokens(i).subspan(1);
      ASSERT_TRUE(
          std::all_of(rest.begin(), rest.end(), [](uint32_t id) { return id >= 2 && id != 3; }));
    }
  }
}

TEST_F(RealImdb, PrintsLengthAndOutOfVocabularyFigures) {
  const SplitView train = dataset_->split("train");
  std::vector<size_t> lengths;
  uint64_t tokens = 0, oov = 0, longer_than_500 = 0;
  for (size_t i = 0; i < train.size(); ++i) {
    const auto seq = train.tokens(i);
    lengths.push_back(seq.size() - 1);  // words, without the start marker
    longer_than_500 += seq.size() > 500;
    for (uint32_t id : seq.subspan(1)) {
      ++tokens;
      oov += cap_id(id, 10000) == kOovId;
    }
  }
  std::sort(lengths.begin(), lengths.end());
  const double mean = static_cast<double>(tokens) / static_cast<double>(train.size());
  const size_t median = lengths[lengths.size() / 2];
  std::cout << "[ lengths  ] train: mean " << mean << " words, median " << median << ", "
            << 100.0 * static_cast<double>(longer_than_500) / static_cast<double>(train.size())
            << "% longer than 500 ids (with the start marker)\n"
            << "[ oov      ] train tokens out of vocabulary at num_words 10000: "
            << 100.0 * static_cast<double>(oov) / static_cast<double>(tokens) << "%\n";
  EXPECT_GT(mean, 200);
  EXPECT_LT(mean, 270);
  EXPECT_GT(median, 150u);
  EXPECT_LT(median, 200u);
}

}  // namespace
}  // namespace rnn_dist::data
