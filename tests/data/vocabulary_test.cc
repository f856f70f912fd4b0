#include "trainer/data/vocabulary.h"

#include <gtest/gtest.h>

#include "tests/data/test_util.h"
#include "trainer/data/tokenizer.h"

namespace rnn_dist::data {
namespace {

Vocabulary build(std::initializer_list<std::string_view> words) {
  VocabularyCounter counter;
  for (auto w : words) counter.add(w);
  return counter.finish();
}

TEST(Vocabulary, OrdersByCountDescendingThenBytesAscending) {
  const Vocabulary v = build({"b", "the", "a", "the", "c", "the", "a", "b"});
  EXPECT_EQ(v.words(), (std::vector<std::string>{"the", "a", "b", "c"}));
  EXPECT_EQ(v.counts(), (std::vector<uint64_t>{3, 2, 2, 1}));
}

TEST(Vocabulary, MostFrequentWordIsFourAndReservedIdsAreBelow) {
  const Vocabulary v = build({"x", "the", "the"});
  EXPECT_EQ(v.id("the"), 4u);
  EXPECT_EQ(v.id("x"), 5u);
  EXPECT_EQ(v.id("missing"), kOovId);
  EXPECT_EQ(v.word(4), "the");
  EXPECT_EQ(kPadId, 0u);
  EXPECT_EQ(kStartId, 1u);
  EXPECT_EQ(kOovId, 2u);
}

TEST(Vocabulary, CapTurnsIdsAtOrAboveNumWordsIntoOov) {
  EXPECT_EQ(cap_id(4, 5), 4u);
  EXPECT_EQ(cap_id(5, 5), kOovId);
  EXPECT_EQ(cap_id(1, 4), 1u);
  EXPECT_EQ(cap_id(100000, 10000), kOovId);
  testing::expect_data_error([] { check_num_words(3); }, {"num_words", "3"});
  EXPECT_NO_THROW(check_num_words(4));
}

TEST(Vocabulary, FinishMapsProvisionalIdsToFinalIds) {
  VocabularyCounter counter;
  const uint32_t b = counter.add("b");
  const uint32_t a = counter.add("a");
  counter.add("a");
  std::vector<uint32_t> final_ids;
  const Vocabulary v = counter.finish(&final_ids);
  EXPECT_EQ(final_ids[a], 4u);
  EXPECT_EQ(final_ids[b], 5u);
  EXPECT_EQ(v.id("a"), 4u);
}

TEST(Vocabulary, EncodesTextWithStartMarkerAndOov) {
  const Vocabulary v = build({"the", "the", "film"});
  EXPECT_EQ(v.encode_text("The film, the UNKNOWN<br />", default_tokenizer_options()),
            (std::vector<uint32_t>{1, 4, 5, 4, 2}));
}

TEST(Vocabulary, RoundTripsThroughProto) {
  const Vocabulary v = build({"z", "y", "y", "caf\xc3\xa9"});
  const Vocabulary back = Vocabulary::from_proto(v.to_proto());
  EXPECT_EQ(back.words(), v.words());
  EXPECT_EQ(back.counts(), v.counts());
  EXPECT_EQ(back.id("y"), 4u);
}

TEST(Vocabulary, RefusesInconsistentProto) {
  pb::Vocabulary proto = build({"a", "b"}).to_proto();
  proto.set_index_from(2);
  testing::expect_data_error([&] { Vocabulary::from_proto(proto); }, {"index_from", "2"});
  proto = build({"a", "b"}).to_proto();
  proto.add_counts(1);
  testing::expect_data_error([&] { Vocabulary::from_proto(proto); }, {"counts"});
  proto = build({"a", "b"}).to_proto();
  proto.set_words(1, std::string(proto.words(0)));  // a duplicate word
  testing::expect_data_error([&] { Vocabulary::from_proto(proto); }, {"rank order"});
}

}  // namespace
}  // namespace rnn_dist::data
