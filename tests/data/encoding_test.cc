#include "trainer/data/encoding.h"

#include <gtest/gtest.h>

#include "tests/data/test_util.h"

namespace rnn_dist::data {
namespace {

// Three hand-made sequences: lengths 3, 6 and 1.
struct SmallSplit {
  std::vector<uint8_t> labels{1, 0, 1};
  std::vector<uint8_t> ratings{9, 2, 7};
  std::vector<uint64_t> rows{0, 3, 9, 10};
  std::vector<uint32_t> tokens{1, 4, 20,            // example 0
                               1, 5, 6,  7, 30, 8,  // example 1
                               1};                  // example 2
  SplitView view() const {
    return SplitView("small", labels.size(), labels.data(), ratings.data(), rows.data(),
                     tokens.data());
  }
};

struct Batch {
  std::vector<int32_t> tokens;
  std::vector<float> labels;
};

Batch fill(const std::vector<uint32_t>& examples, SequenceOptions options, int T) {
  SmallSplit s;
  Batch b{std::vector<int32_t>(static_cast<size_t>(T) * examples.size(), -1),
          std::vector<float>(examples.size(), -1)};
  fill_batch(s.view(), examples, options, T, b.tokens, b.labels);
  return b;
}

SequenceOptions opts(int num_words, int maxlen, Padding padding, Padding truncating) {
  SequenceOptions o;
  o.num_words = num_words;
  o.maxlen = maxlen;
  o.padding = padding;
  o.truncating = truncating;
  return o;
}

// Batches below are written time-major: row t lists examples (0, 1) at step t.
TEST(Encoding, PrePaddingAndPreTruncatingKeepTheLastTokens) {
  const Batch b = fill({0, 1}, opts(10, 4, Padding::kPre, Padding::kPre), 4);
  EXPECT_EQ(b.tokens, (std::vector<int32_t>{0, 6,     //
                                            1, 7,     //
                                            4, 2,     // 30 >= num_words 10 -> OOV
                                            2, 8}));  // 20 -> OOV
  EXPECT_EQ(b.labels, (std::vector<float>{1, 0}));
}

TEST(Encoding, PostPaddingAndPostTruncatingKeepTheFirstTokens) {
  const Batch b = fill({0, 1}, opts(10, 4, Padding::kPost, Padding::kPost), 4);
  EXPECT_EQ(b.tokens, (std::vector<int32_t>{1, 1,  //
                                            4, 5,  //
                                            2, 6,  //
                                            0, 7}));
}

TEST(Encoding, PrePaddingWithPostTruncating) {
  const Batch b = fill({1, 2}, opts(100, 5, Padding::kPre, Padding::kPost), 5);
  EXPECT_EQ(b.tokens, (std::vector<int32_t>{1, 0,  //
                                            5, 0,  //
                                            6, 0,  //
                                            7, 0,  //
                                            30, 1}));
}

TEST(Encoding, PostPaddingWithPreTruncating) {
  const Batch b = fill({2, 1}, opts(100, 3, Padding::kPost, Padding::kPre), 3);
  EXPECT_EQ(b.tokens, (std::vector<int32_t>{1, 7,   //
                                            0, 30,  //
                                            0, 8}));
}

TEST(Encoding, VariableLengthBatchIsPaddedOnlyToItsLongestMember) {
  SmallSplit s;
  const std::vector<uint32_t> examples{0, 2};
  const int T = batch_time_steps(s.view(), examples, 500);
  ASSERT_EQ(T, 3);
  const Batch b = fill(examples, opts(10000, 500, Padding::kPre, Padding::kPre), T);
  EXPECT_EQ(b.tokens, (std::vector<int32_t>{1, 0,  //
                                            4, 0,  //
                                            20, 1}));
  EXPECT_EQ(batch_time_steps(s.view(), std::vector<uint32_t>{1}, 4), 4);
}

TEST(Encoding, EffectiveLengthIsCappedByMaxlen) {
  SmallSplit s;
  EXPECT_EQ(effective_length(s.view().tokens(1), 4), 4);
  EXPECT_EQ(effective_length(s.view().tokens(1), 100), 6);
}

TEST(Encoding, RefusesATimeLengthShorterThanAnExample) {
  SmallSplit s;
  std::vector<int32_t> tokens(2);
  std::vector<float> labels(1);
  testing::expect_data_error(
      [&] { fill_batch(s.view(), std::vector<uint32_t>{1}, SequenceOptions{}, 2, tokens, labels); },
      {"T=2", "example 1"});
}

TEST(Encoding, ValidatesOptionsNamingTheValue) {
  testing::expect_data_error([] { opts(3, 10, Padding::kPre, Padding::kPre).validate(); },
                             {"num_words", "3"});
  testing::expect_data_error([] { opts(10, 0, Padding::kPre, Padding::kPre).validate(); },
                             {"maxlen", "0"});
  EXPECT_NO_THROW(SequenceOptions{}.validate());
  EXPECT_EQ(parse_padding("post"), Padding::kPost);
  testing::expect_data_error([] { parse_padding("middle"); }, {"middle"});
}

}  // namespace
}  // namespace rnn_dist::data
