#include "comm/local_communicator.h"

#include <gtest/gtest.h>

#include <cstdint>
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
}

TEST(LocalCommunicatorDeathTest, AbortPrintsOneLineAndExitsWithStatus) {
  LocalCommunicator comm;
  EXPECT_EXIT(comm.abort("disk full", 7), testing::ExitedWithCode(7),
              "^rnn_dist: rank 0 \\(.+\\): disk full\n$");
}

}  // namespace
}  // namespace rnn_dist::comm
