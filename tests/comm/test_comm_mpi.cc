// Collectives of MpiCommunicator under mpirun, with inputs that encode rank and index so that a
// wrong chunk, offset or root shows (gloo's allreduce_test style). Every test runs in four modes:
// blocking or with a deadline, and whole or chunked below the buffer size.
//
// All ranks run the same tests in the same order; the tests use EXPECT (never ASSERT) so that a
// failure on one rank never skips a collective the others are in. At the end the ranks agree on
// whether any of them failed, and all exit non-zero if one did.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "comm/mpi_communicator.h"
#include "comm/row_sparse.h"

namespace rnn_dist::comm {
namespace {

MpiCommunicator* g_comm = nullptr;

const std::vector<std::size_t> kLengths = {0, 1, 2, 7, 31, 1000, 65537, (std::size_t{1} << 20) + 3};

using Algorithm = MpiCommunicator::SumAlgorithm;

struct Mode {
  double deadline;
  std::size_t max_chunk;
  Algorithm sums;  // kSharedMemory: the ring where the ranks span nodes
};

std::string mode_name(const testing::TestParamInfo<Mode>& info) {
  return std::string(info.param.deadline > 0 ? "Deadline" : "Blocking") +
         (info.param.max_chunk == INT_MAX ? "Whole" : "Chunk" + std::to_string(info.param.max_chunk)) +
         (info.param.sums == Algorithm::kRing ? "Ring" : "Shared");
}

class Collectives : public testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    comm_.set_deadline(GetParam().deadline);
    comm_.set_max_chunk(GetParam().max_chunk);
    comm_.set_sum_algorithm(GetParam().sums);
    comm_.set_context(testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override {
    comm_.set_deadline(0);
    comm_.set_max_chunk(INT_MAX);
    comm_.set_sum_algorithm(Algorithm::kSharedMemory);
  }

  MpiCommunicator& comm_ = *g_comm;
  const int rank_ = g_comm->rank();
  const int size_ = g_comm->size();
};

// Counts mismatches and reports the first, so one failure does not print a million lines.
template <class T, class Expected>
void expect_all(const std::vector<T>& got, Expected expected, const std::string& what) {
  std::size_t bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i] != expected(i)) {
      if (bad == 0) {
        ADD_FAILURE() << what << " n=" << got.size() << ": first mismatch at [" << i << "]: got "
                      << +got[i] << ", expected " << +expected(i);
      }
      ++bad;
    }
  }
  EXPECT_EQ(bad, 0u) << what << " n=" << got.size();
}

TEST_P(Collectives, AllreduceSumFloatIsExactSumOfRankAndIndexCodes) {
  for (std::size_t n : kLengths) {
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<float>(rank_ * 1000 + i % 997);
    comm_.allreduce_sum(std::span<float>(x));
    // sum over r of (r*1000 + i%997) = 1000*P(P-1)/2 + P*(i%997): below 2^24, exact in float.
    const double ranks = 1000.0 * size_ * (size_ - 1) / 2;
    expect_all(x, [&](std::size_t i) { return static_cast<float>(ranks + size_ * static_cast<double>(i % 997)); },
               "allreduce_sum(float)");
  }
}

TEST_P(Collectives, AllreduceSumDoubleIsExactSumOfRankAndIndexCodes) {
  for (std::size_t n : kLengths) {
    std::vector<double> x(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = rank_ * 1.0e6 + static_cast<double>(i) + 0.25;
    comm_.allreduce_sum(std::span<double>(x));
    const double ranks = 1.0e6 * size_ * (size_ - 1) / 2;
    expect_all(x, [&](std::size_t i) { return ranks + size_ * (static_cast<double>(i) + 0.25); },
               "allreduce_sum(double)");
  }
}

TEST_P(Collectives, MetricSumsReduceToTotals) {
  // (loss sum, correct, count) as a trainer reduces them.
  std::vector<double> m = {0.5 + rank_, 10.0 * rank_, 100.0 + rank_};
  comm_.allreduce_sum(std::span<double>(m));
  const double p = size_;
  EXPECT_EQ(m, (std::vector<double>{0.5 * p + p * (p - 1) / 2, 10 * p * (p - 1) / 2,
                                    100 * p + p * (p - 1) / 2}));
}

TEST_P(Collectives, BroadcastFloatGivesRankZerosData) {
  for (std::size_t n : kLengths) {
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<float>((rank_ + 1) * 100000 + i % 9973);
    comm_.broadcast(std::span<float>(x));
    expect_all(x, [](std::size_t i) { return static_cast<float>(100000 + i % 9973); },
               "broadcast(float)");
  }
}

TEST_P(Collectives, BroadcastBytesGivesRankZerosData) {
  for (std::size_t n : kLengths) {
    std::vector<std::uint8_t> x(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<std::uint8_t>((rank_ * 31 + i * 7) % 251);
    comm_.broadcast(std::span<std::uint8_t>(x));
    expect_all(x, [](std::size_t i) { return static_cast<std::uint8_t>((i * 7) % 251); },
               "broadcast(bytes)");
  }
}

TEST_P(Collectives, AllreduceMaxFindsTheRankHoldingEachMaximum) {
  for (std::size_t n : {std::size_t{1}, std::size_t{7}, std::size_t{1000}, std::size_t{65537}}) {
    // Index i's maximum (100 + i) sits on rank i % P; the other ranks hold their rank number.
    std::vector<double> x(n);
    for (std::size_t i = 0; i < n; ++i) {
      x[i] = static_cast<int>(i % size_) == rank_ ? 100.0 + i : rank_;
    }
    comm_.allreduce_max(std::span<double>(x));
    expect_all(x, [](std::size_t i) { return 100.0 + i; }, "allreduce_max");
  }
}

TEST_P(Collectives, AnyIsTrueIffSomeRankSaysTrue) {
  EXPECT_FALSE(comm_.any(false));
  EXPECT_TRUE(comm_.any(true));
  for (int r = 0; r < size_; ++r) EXPECT_TRUE(comm_.any(rank_ == r)) << "only rank " << r;
  for (int r = 0; r < size_; ++r) EXPECT_EQ(comm_.any(rank_ != r), size_ > 1) << "all but " << r;
}

TEST_P(Collectives, AllHostsHasOneEntryPerRank) {
  const std::vector<std::string> hosts = comm_.all_hosts();
  EXPECT_EQ(static_cast<int>(hosts.size()), size_);
  if (static_cast<int>(hosts.size()) == size_) {
    EXPECT_EQ(hosts[rank_], comm_.host());
  }
  for (const std::string& h : hosts) EXPECT_FALSE(h.empty());
}

TEST_P(Collectives, ManySmallCollectivesStayInStep) {
  // Thousands of collectives with the arrival tracker on: nothing accumulates, sums stay right.
  std::vector<float> x(3);
  for (int step = 0; step < 2000; ++step) {
    x = {1.0f, static_cast<float>(rank_), static_cast<float>(step)};
    comm_.allreduce_sum(std::span<float>(x));
    if (step % 100 == 0) comm_.barrier();
    if (x[0] != size_ || x[2] != static_cast<float>(step) * size_) {
      ADD_FAILURE() << "step " << step << ": got " << x[0] << ", " << x[2];
      break;  // the other ranks still complete their collectives: all do the same loop
    }
  }
  EXPECT_EQ(x[1], size_ * (size_ - 1) / 2.0f);
}

TEST_P(Collectives, WorkGroupsAreTheNodesAndSumsUseSharedMemory) {
  // One machine: MPI gives its ranks shared memory windows, so each node is one work group and
  // large sums go through the window (with more than one rank).
  EXPECT_EQ(comm_.all_work_groups(), comm_.all_nodes());
  EXPECT_EQ(comm_.shared_memory_sums(), size_ > 1);
}

TEST_P(Collectives, TakeWorkHandsEachItemOfARoundToOneCallerOfItsGroup) {
  // Rounds of different sizes, each taken by 3 threads per rank; the collective that adds up
  // the counts also starts the next round. Every item of every group counted exactly once.
  const std::vector<int> groups = comm_.all_work_groups();
  const int ngroups = *std::max_element(groups.begin(), groups.end()) + 1;
  const int group = groups[static_cast<std::size_t>(rank_)];
  for (std::int64_t items : {0, 1, 5, 1000, 37, 20000}) {
    const auto n = static_cast<std::size_t>(items);
    std::vector<std::int64_t> counts(static_cast<std::size_t>(ngroups) * n, 0);
    std::vector<std::vector<std::int64_t>> taken(3);
    std::vector<std::thread> threads;
    for (auto& mine : taken)
      threads.emplace_back([&, items] {
        for (std::int64_t k; (k = comm_.take_work(items)) >= 0;) mine.push_back(k);
      });
    for (auto& t : threads) t.join();
    for (const auto& mine : taken)
      for (std::int64_t k : mine) ++counts[static_cast<std::size_t>(group) * n + static_cast<std::size_t>(k)];
    EXPECT_EQ(comm_.take_work(items), -1) << "items " << items;
    comm_.allreduce_sum(std::span<std::int64_t>(counts));
    expect_all(counts, [](std::size_t) { return std::int64_t{1}; },
               "items taken per group, round of " + std::to_string(items));
  }
}

TEST_P(Collectives, AllreduceOrCombinesEveryRanksBits) {
  for (std::size_t n : kLengths) {
    // Rank r sets bit r % 60; the top four bits encode the index, the same on every rank.
    std::vector<std::uint64_t> x(n);
    for (std::size_t i = 0; i < n; ++i)
      x[i] = (std::uint64_t{1} << (rank_ % 60)) | (std::uint64_t(i % 16) << 60);
    comm_.allreduce_or(std::span<std::uint64_t>(x));
    std::uint64_t ranks = 0;
    for (int r = 0; r < size_; ++r) ranks |= std::uint64_t{1} << (r % 60);
    expect_all(x, [&](std::size_t i) { return ranks | (std::uint64_t(i % 16) << 60); },
               "allreduce_or");
  }
}

// A buffer of `before` floats, a table of rows x width, `after` floats. Row r is non-zero on rank
// k iff has_row(r, k); values encode rank and position, integers below 2^24 (exact sums).
struct SparseCase {
  std::size_t before, rows, width, after;
  bool all_rows_on_rank0 = false;  // then more than kDenseFraction are needed: the dense path
};

bool has_row(const SparseCase& c, std::size_t r, int k) {
  if (c.all_rows_on_rank0 && k == 0) return true;
  if (r % 5 == 4) return false;  // zero on every rank
  return (r + static_cast<std::size_t>(k)) % static_cast<std::size_t>(k + 3) == 0;
}

float row_value(std::size_t r, std::size_t c, std::size_t width, int k) {
  return static_cast<float>(k * 100 + static_cast<int>((r * width + c) % 89) + 1);
}

TEST_P(Collectives, RowSparseAllreduceEqualsTheDenseSum) {
  const std::vector<SparseCase> cases = {
      {5, 1000, 32, 7}, {0, 65, 3, 0}, {0, 0, 1, 4}, {11, 64, 1, 0}, {3, 130, 5, 2},
      {2, 200, 4, 3, /*all_rows_on_rank0=*/true}, {0, 10000, 32, 8320}};
  for (const SparseCase& c : cases) {
    const std::size_t table = c.rows * c.width, n = c.before + table + c.after;
    std::vector<float> x(n, 0.0f);
    auto dense = [&](std::size_t i, int k) { return static_cast<float>(k * 1000 + i % 997); };
    for (std::size_t i = 0; i < c.before; ++i) x[i] = dense(i, rank_);
    for (std::size_t i = c.before + table; i < n; ++i) x[i] = dense(i, rank_);
    for (std::size_t r = 0; r < c.rows; ++r)
      if (has_row(c, r, rank_))
        for (std::size_t k = 0; k < c.width; ++k)
          x[c.before + r * c.width + k] = row_value(r, k, c.width, rank_);
    RowSparseAllreduce reduce(c.before, c.rows, c.width);
    reduce.reduce(comm_, std::span<float>(x));

    std::size_t needed = 0;
    for (std::size_t r = 0; r < c.rows; ++r) {
      bool any = false;
      for (int k = 0; k < size_; ++k) any = any || has_row(c, r, k);
      needed += any ? 1 : 0;
    }
    const std::string what = "row-sparse all-reduce, rows " + std::to_string(c.rows) + " x " +
                             std::to_string(c.width) + " at " + std::to_string(c.before);
    const bool dense_path = double(needed) > RowSparseAllreduce<>::kDenseFraction * double(c.rows);
    EXPECT_EQ(reduce.rows_sent(), dense_path ? c.rows : needed) << what;
    expect_all(x, [&](std::size_t i) {
      if (i < c.before || i >= c.before + table) {
        float sum = 0;
        for (int k = 0; k < size_; ++k) sum += dense(i, k);
        return sum;
      }
      const std::size_t r = (i - c.before) / c.width, col = (i - c.before) % c.width;
      float sum = 0;
      for (int k = 0; k < size_; ++k)
        if (has_row(c, r, k)) sum += row_value(r, col, c.width, k);
      return sum;
    }, what);
  }
}

TEST_P(Collectives, RowUnionListsTheRowsOfEveryRankWithTheirSlots) {
  // Rank k marks rows k, k + 64 and 130 - k of 131 (words straddled, duplicates across ranks).
  comm::RowUnion u(131);
  std::vector<std::uint64_t> bits(u.words(), 0);
  for (std::size_t r : {std::size_t(rank_), std::size_t(rank_) + 64, std::size_t(130 - rank_)})
    bits[r / 64] |= std::uint64_t{1} << (r % 64);
  u.agree(comm_, bits);
  std::vector<std::uint32_t> want;
  for (std::uint32_t r = 0; r < 131; ++r)
    for (int k = 0; k < size_; ++k)
      if (r == std::uint32_t(k) || r == std::uint32_t(k + 64) || r == std::uint32_t(130 - k)) {
        want.push_back(r);
        break;
      }
  ASSERT_EQ(std::vector<std::uint32_t>(u.rows().begin(), u.rows().end()), want);
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(u.slot(want[i]), i);
  EXPECT_THROW(u.agree(comm_, std::span<const std::uint64_t>(bits).first(1)), std::invalid_argument);
}

TEST_P(Collectives, RowSparseAllreduceSendsNonFiniteRows) {
  // Row 2 holds NaN on the last rank only: every rank must see it (the trainer's non-finite
  // check runs after the reduction), and row 5's infinity likewise.
  std::vector<float> x(1 + 8 * 4, 0.0f);
  x[0] = 1.0f;
  if (rank_ == size_ - 1) x[1 + 2 * 4 + 3] = std::nanf("");
  if (rank_ == 0) x[1 + 5 * 4] = INFINITY;
  RowSparseAllreduce reduce(1, 8, 4);
  reduce.reduce(comm_, std::span<float>(x));
  EXPECT_EQ(reduce.rows_sent(), 2u);
  EXPECT_TRUE(std::isnan(x[1 + 2 * 4 + 3]));
  EXPECT_TRUE(std::isinf(x[1 + 5 * 4]));
  EXPECT_EQ(x[0], static_cast<float>(size_));
}

INSTANTIATE_TEST_SUITE_P(Modes, Collectives,
                         testing::Values(Mode{0, INT_MAX, Algorithm::kSharedMemory},
                                         Mode{60, INT_MAX, Algorithm::kSharedMemory},
                                         Mode{0, INT_MAX, Algorithm::kRing},
                                         Mode{60, INT_MAX, Algorithm::kRing},
                                         Mode{0, 4099, Algorithm::kRing},
                                         Mode{60, 4099, Algorithm::kRing}),
                         mode_name);

// Prints a non-zero rank's failures (rank 0 keeps gtest's full output).
class FailurePrinter : public testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::fprintf(stderr, "[rank %d] %s:%d: %s\n", rank_, result.file_name() ? result.file_name() : "?",
                 result.line_number(), result.summary());
  }

 private:
  int rank_;
};

}  // namespace
}  // namespace rnn_dist::comm

// A rank that writes to a peer (or an output pipe) that is gone gets EPIPE and lives on: it must
// not die of SIGPIPE, which would make mpirun name it instead of the rank that really failed.
TEST(Signals, AWriteToAClosedPipeFailsWithEpipeAndTheRankLivesOn) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[0]);
  const char byte = 'x';
  errno = 0;
  const ssize_t written = write(fds[1], &byte, 1);
  const int error = errno;
  close(fds[1]);
  EXPECT_EQ(written, -1);
  EXPECT_EQ(error, EPIPE);
}

int main(int argc, char** argv) {
  using rnn_dist::comm::MpiCommunicator;
  testing::InitGoogleTest(&argc, argv);
  MpiCommunicator comm(&argc, &argv);
  rnn_dist::comm::g_comm = &comm;
  if (comm.rank() != 0) {
    testing::TestEventListeners& listeners = testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new rnn_dist::comm::FailurePrinter(comm.rank()));
  }
  const int local = RUN_ALL_TESTS();
  comm.set_deadline(60);
  const bool any_failed = comm.any(local != 0);
  if (comm.rank() == 0) {
    std::printf("test_comm_mpi: %d rank(s), %s\n", comm.size(),
                any_failed ? "FAILED on at least one rank" : "passed on every rank");
  }
  return any_failed ? 1 : 0;
}
