#include "comm/local_communicator.h"

#include "comm/row_sparse.h"
#include "comm/work_share.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>
#include <stdexcept>
#include <vector>

namespace rnn_dist::comm {
namespace {

TEST(LocalCommunicator, IsRankZeroOfOne) {
  LocalCommunicator comm;
  EXPECT_EQ(comm.rank(), 0);
  EXPECT_EQ(comm.size(), 1);
  EXPECT_FALSE(comm.host().empty());
  EXPECT_EQ(comm.all_hosts(), std::vector<std::string>{comm.host()});
}

TEST(LocalCommunicator, TakeWorkSharesARoundAmongThreadsUntilTheNextCollective) {
  LocalCommunicator comm;
  EXPECT_EQ(comm.all_work_groups(), std::vector<int>{0});
  for (int round = 0; round < 3; ++round) {
    constexpr std::int64_t kItems = 5000;
    std::vector<std::vector<std::int64_t>> taken(4);
    std::vector<std::thread> threads;
    for (auto& mine : taken)
      threads.emplace_back([&] {
        for (std::int64_t k; (k = comm.take_work(kItems)) >= 0;) mine.push_back(k);
      });
    for (auto& t : threads) t.join();
    std::vector<int> count(kItems, 0);
    for (const auto& mine : taken)
      for (std::int64_t k : mine) ++count[static_cast<std::size_t>(k)];
    EXPECT_EQ(count, std::vector<int>(kItems, 1)) << "round " << round;
    // Taken: nothing more until a collective starts the next round.
    EXPECT_EQ(comm.take_work(kItems), -1);
    comm.barrier();
  }
}

TEST(TakeFrom, StartsEachRoundAfreshAndStopsAtItsSize) {
  std::uint64_t word = 0;
  EXPECT_EQ(take_from(word, 7, 2), 0);
  EXPECT_EQ(take_from(word, 7, 2), 1);
  EXPECT_EQ(take_from(word, 7, 2), -1);
  EXPECT_EQ(take_from(word, 7, 2), -1);
  EXPECT_EQ(take_from(word, 8, 1), 0);  // a new round, though the old one was never reset
  EXPECT_EQ(take_from(word, 8, 1), -1);
  EXPECT_EQ(take_from(word, 9, 0), -1);
  EXPECT_EQ(take_from(word, 10, 3), 0);
  std::uint64_t zero = 0;
  EXPECT_EQ(take_from(zero, 0, 1), 0);  // round 0 on a zeroed word
}

TEST(LocalCommunicator, CollectivesAreIdentities) {
  LocalCommunicator comm;
  comm.set_deadline(1.0);
  comm.set_context("epoch 1 step 1");
  std::vector<float> f = {1.5f, -2.0f, 3.25f};
  std::vector<double> d = {0.5, 7.0};
  std::vector<std::uint8_t> b = {1, 2, 255};
  comm.allreduce_sum(std::span<float>(f));
  comm.allreduce_sum(std::span<double>(d));
  comm.allreduce_max(std::span<double>(d));
  comm.broadcast(std::span<float>(f));
  comm.broadcast(std::span<std::uint8_t>(b));
  comm.barrier();
  EXPECT_EQ(f, (std::vector<float>{1.5f, -2.0f, 3.25f}));
  EXPECT_EQ(d, (std::vector<double>{0.5, 7.0}));
  EXPECT_EQ(b, (std::vector<std::uint8_t>{1, 2, 255}));
  EXPECT_TRUE(comm.any(true));
  EXPECT_FALSE(comm.any(false));
  std::vector<std::uint64_t> bits{5, 1ULL << 63};
  comm.allreduce_or(std::span<std::uint64_t>(bits));
  EXPECT_EQ(bits, (std::vector<std::uint64_t>{5, 1ULL << 63}));
}

TEST(RowSparseAllreduce, OnOneRankLeavesTheBufferAndCountsItsRows) {
  LocalCommunicator comm;
  // 2 floats, a 4 x 3 table with rows 1 and 3 non-zero, 1 float.
  std::vector<float> x{7, 8, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, -3, 9};
  const auto before = x;
  RowSparseAllreduce reduce(2, 4, 3);
  reduce.reduce(comm, std::span<float>(x));
  EXPECT_EQ(x, before);
  EXPECT_EQ(reduce.rows_sent(), 2u);
  // 3 of 4 rows needed is 75%, not more: still packed; all 4 take the dense path.
  x[2] = 1;
  reduce.reduce(comm, std::span<float>(x));
  EXPECT_EQ(reduce.rows_sent(), 3u);
  x[8] = 1;
  reduce.reduce(comm, std::span<float>(x));
  EXPECT_EQ(reduce.rows_sent(), 4u);
}

TEST(RowSparseAllreduce, RefusesATableThatDoesNotFit) {
  LocalCommunicator comm;
  std::vector<float> x(10);
  RowSparseAllreduce too_big(2, 3, 3);  // ends at 11
  EXPECT_THROW(too_big.reduce(comm, std::span<float>(x)), std::invalid_argument);
  EXPECT_THROW(RowSparseAllreduce(0, 3, 0), std::invalid_argument);
}

TEST(LocalCommunicatorDeathTest, AbortPrintsOneLineAndExitsWithStatus) {
  LocalCommunicator comm;
  EXPECT_EXIT(comm.abort("disk full", 7), testing::ExitedWithCode(7),
              "^rnn_dist: rank 0 \\(.+\\): disk full\n$");
}

}  // namespace
}  // namespace rnn_dist::comm
