#include "trainer/data/batch_order.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "tests/data/test_util.h"
#include "trainer/data/rng.h"
#include "trainer/data/split.h"

namespace rnn_dist::data {
namespace {

std::vector<uint32_t> iota_ids(size_t n, uint32_t from = 0) {
  std::vector<uint32_t> v(n);
  std::iota(v.begin(), v.end(), from);
  return v;
}

TEST(ValidationSplit, TakesKerasSizes) {
  for (size_t n : {0u, 1u, 10u, 25000u, 25001u}) {
    const TrainValSplit s = make_validation_split(n, 0.2, 113);
    const auto split_at = static_cast<size_t>(static_cast<double>(n) * 0.8);
    EXPECT_EQ(s.train.size(), split_at) << n;
    EXPECT_EQ(s.val.size(), n - split_at) << n;
  }
  EXPECT_EQ(make_validation_split(25000, 0.2, 1).val.size(), 5000u);
  EXPECT_TRUE(make_validation_split(100, 0.0, 1).val.empty());
  // training_count is the split's rule (Keras: int(25000 * (1 - 0.9)) = 2499).
  EXPECT_EQ(training_count(25000, 0.9), 2499u);
  EXPECT_EQ(training_count(25000, 0.999999), 0u);
  EXPECT_EQ(make_validation_split(25000, 0.9, 1).train.size(), training_count(25000, 0.9));
}

TEST(ValidationSplit, IsADeterministicShuffledPartition) {
  const TrainValSplit a = make_validation_split(1000, 0.25, 7);
  const TrainValSplit b = make_validation_split(1000, 0.25, 7);
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.val, b.val);
  std::vector<uint32_t> all = a.train;
  all.insert(all.end(), a.val.begin(), a.val.end());
  EXPECT_NE(all, iota_ids(1000)) << "not shuffled";
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, iota_ids(1000));
  EXPECT_NE(make_validation_split(1000, 0.25, 8).val, a.val);
}

TEST(ValidationSplit, RefusesFractionOutsideZeroToOne) {
  testing::expect_data_error([] { make_validation_split(10, 1.0, 1); }, {"validation_split", "1"});
  testing::expect_data_error([] { make_validation_split(10, -0.1, 1); }, {"-0.1"});
}

TEST(BatchOrder, SlicesCoverEveryBatchForOneToEightRanks) {
  for (size_t len : {0u, 1u, 3u, 7u, 8u, 9u, 128u, 131u}) {
    for (int world = 1; world <= 8; ++world) {
      size_t next = 0, smallest = len, largest = 0;
      for (int rank = 0; rank < world; ++rank) {
        const auto [begin, end] = BatchOrder::rank_slice(len, rank, world);
        EXPECT_EQ(begin, next) << "len " << len << " world " << world << " rank " << rank;
        ASSERT_LE(begin, end);
        smallest = std::min(smallest, end - begin);
        largest = std::max(largest, end - begin);
        if (rank < static_cast<int>(len % world)) {
          EXPECT_EQ(end - begin, len / world + 1);
        }
        next = end;
      }
      EXPECT_EQ(next, len) << "len " << len << " world " << world;
      EXPECT_LE(largest - smallest, 1u);
    }
  }
}

// Every example of the epoch appears exactly once, batches are full except the last.
void expect_epoch_is_a_partition(BatchOrder& order, int epoch, const std::vector<uint32_t>& ids) {
  std::vector<uint32_t> seen;
  size_t partial = 0;
  for (size_t step = 0; step < order.num_batches(); ++step) {
    const auto batch = order.batch(epoch, step);
    ASSERT_FALSE(batch.empty());
    if (batch.size() < static_cast<size_t>(order.global_batch())) ++partial;
    seen.insert(seen.end(), batch.begin(), batch.end());
  }
  EXPECT_LE(partial, 1u);
  std::sort(seen.begin(), seen.end());
  std::vector<uint32_t> expected = ids;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(seen, expected);
}

TEST(BatchOrder, EveryExampleAppearsOncePerEpochIncludingPartialAndOversizedBatches) {
  for (size_t n : {1u, 10u, 127u, 128u, 1000u}) {
    for (int batch : {1, 3, 32, 128, 2000}) {
      const auto ids = iota_ids(n, 5);
      BatchOrder order(ids, batch, 42);
      EXPECT_EQ(order.num_batches(), (n + batch - 1) / batch);
      for (int epoch : {0, 1, 3}) expect_epoch_is_a_partition(order, epoch, ids);
    }
  }
}

TEST(BatchOrder, RankSlicesOfEveryBatchPartitionTheEpoch) {
  const auto ids = iota_ids(1001);
  BatchOrder order(ids, 64, 9);
  for (int world = 1; world <= 8; ++world) {
    std::vector<uint32_t> seen;
    for (int rank = 0; rank < world; ++rank) {
      for (size_t step = 0; step < order.num_batches(); ++step) {
        const auto batch = order.batch(2, step);
        const auto [begin, end] = BatchOrder::rank_slice(batch.size(), rank, world);
        seen.insert(seen.end(), batch.begin() + begin, batch.begin() + end);
      }
    }
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, ids) << "world " << world;
  }
}

TEST(BatchOrder, PermutationDependsOnlyOnSeedAndEpoch) {
  const auto ids = iota_ids(500);
  BatchOrder a(ids, 32, 1234), b(ids, 32, 1234), other_seed(ids, 32, 1235);
  // Visit b's epochs out of order: the result must not depend on the call history.
  const auto b_epoch3 = b.batch(3, 7);
  EXPECT_EQ(a.batch(0, 0), b.batch(0, 0));
  EXPECT_EQ(a.batch(0, 15), b.batch(0, 15));
  EXPECT_EQ(a.batch(3, 7), b_epoch3);
  EXPECT_NE(a.batch(0, 0), a.batch(1, 0));
  EXPECT_NE(a.batch(0, 0), other_seed.batch(0, 0));
  // Resuming mid-epoch in a fresh object gives the same batch.
  BatchOrder resumed(ids, 32, 1234);
  EXPECT_EQ(resumed.batch(3, 8), a.batch(3, 8));
}

// Mean over batches of (longest - mean length): the padding a variable-length batch carries.
double mean_padding(BatchOrder& order, int epoch, const std::vector<uint32_t>& lengths) {
  double total = 0;
  for (size_t step = 0; step < order.num_batches(); ++step) {
    const auto batch = order.batch(epoch, step);
    double longest = 0, sum = 0;
    for (uint32_t e : batch) {
      longest = std::max<double>(longest, lengths[e]);
      sum += lengths[e];
    }
    total += longest - sum / static_cast<double>(batch.size());
  }
  return total / static_cast<double>(order.num_batches());
}

TEST(BatchOrder, BucketingKeepsTheContractAndReducesPadding) {
  const size_t n = 5000;
  BucketOptions buckets;
  Rng rng(77);
  for (size_t i = 0; i < n; ++i)
    buckets.lengths.push_back(10 + static_cast<uint32_t>(rng.below(490)));
  buckets.window_batches = 20;
  const auto ids = iota_ids(n);
  BatchOrder plain(ids, 64, 5), bucketed(ids, 64, 5, &buckets), again(ids, 64, 5, &buckets);
  EXPECT_EQ(bucketed.num_batches(), plain.num_batches());
  for (int epoch : {0, 1}) expect_epoch_is_a_partition(bucketed, epoch, ids);
  EXPECT_EQ(bucketed.batch(1, 3), again.batch(1, 3));
  EXPECT_NE(bucketed.batch(0, 3), bucketed.batch(1, 3));
  const double plain_padding = mean_padding(plain, 0, buckets.lengths);
  const double bucketed_padding = mean_padding(bucketed, 0, buckets.lengths);
  EXPECT_LT(bucketed_padding, plain_padding / 10)
      << "plain " << plain_padding << " bucketed " << bucketed_padding;
}

TEST(BatchOrder, RefusesBadArguments) {
  const auto ids = iota_ids(10);
  testing::expect_data_error([&] { BatchOrder(ids, 0, 1); }, {"batch size", "0"});
  BucketOptions short_lengths;
  short_lengths.lengths.assign(5, 1);
  testing::expect_data_error([&] { BatchOrder(ids, 2, 1, &short_lengths); }, {"example id 5"});
  BatchOrder order(ids, 4, 1);
  testing::expect_data_error([&] { order.batch(0, 3); }, {"step 3", "3 batches"});
  testing::expect_data_error([] { BatchOrder::rank_slice(4, 2, 2); }, {"rank 2"});
}

}  // namespace
}  // namespace rnn_dist::data
