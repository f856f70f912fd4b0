// Time per all-reduce at the run's -np: Open MPI's blocking MPI_Allreduce (deadline off) against
// comm/'s two algorithms under a deadline (with arrival tracking): the ring of non-blocking
// point-to-point messages (with MPI's non-blocking all-reduce for small buffers), and, when all
// ranks are on one node, the node's shared window (the default there). Cases: the training
// step's small collectives (maxima, row bitmap, stop flag), float sums, and the default model's
// gradient as training sends it: 137,000 int64 values.
//
//   mpirun -np 2 build/tests/comm/bench_allreduce [--scale F]
//
// The paths alternate in blocks of iterations so that drift (other load, frequency) hits both.
// Reported: median and mean over all iterations on rank 0, after a barrier before each block.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "comm/mpi_communicator.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Stats {
  double median_us;
  double mean_us;
};

Stats stats(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], std::accumulate(t.begin(), t.end(), 0.0) / static_cast<double>(t.size())};
}

}  // namespace

int main(int argc, char** argv) {
  using rnn_dist::comm::MpiCommunicator;
  using Algorithm = MpiCommunicator::SumAlgorithm;
  auto comm = std::make_unique<MpiCommunicator>(&argc, &argv);
  std::vector<std::pair<const char*, Algorithm>> modes = {{"blocking", Algorithm::kMpiBlocking},
                                                          {"ring", Algorithm::kRing}};
  if (comm->shared_memory_sums()) modes.push_back({"shared mem", Algorithm::kSharedMemory});
  auto set_mode = [&](std::size_t mode) {
    comm->set_deadline(modes[mode].second == Algorithm::kMpiBlocking ? 0.0 : 60.0);
    comm->set_sum_algorithm(modes[mode].second);
  };
  double scale = 1.0;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--scale") scale = std::stod(argv[i + 1]);
  }
  enum class Kind { kFloatSum, kInt64Sum, kMax, kOr, kAny };
  struct Case {
    std::size_t elements;
    int iterations;
    Kind kind;
  };
  // The step's small collectives first: the maxima of its 7 gradient tensors and the finite flag
  // (8 doubles), the embedding's row bitmap (10,000 rows: 157 words), the stop agreement (any).
  // Then sums: 136k, the default model's gradient after the row-sparse packing; 330k, all of it.
  const Case cases[] = {{8, 20000, Kind::kMax},         {157, 20000, Kind::kOr},
                        {1, 20000, Kind::kAny},         {40000, 4000, Kind::kFloatSum},
                        {136000, 2000, Kind::kFloatSum}, {137000, 2000, Kind::kInt64Sum},
                        {330000, 1000, Kind::kFloatSum}, {4000000, 100, Kind::kFloatSum}};
  auto kind_name = [](Kind k) {
    switch (k) {
      case Kind::kFloatSum: return "float";
      case Kind::kInt64Sum: return "int64";
      case Kind::kMax: return "max";
      case Kind::kOr: return "or";
      case Kind::kAny: return "any";
    }
    return "";
  };
  if (comm->rank() == 0) {
    std::printf("bench_allreduce: %d rank(s); median (mean) microseconds per all-reduce\n", comm->size());
    std::printf("%16s %7s", "elements", "iters");
    for (const auto& m : modes) std::printf(" | %20s", m.first);
    std::printf("\n");
  }
  for (const Case& c : cases) {
    const int iterations = std::max(10, static_cast<int>(c.iterations * scale));
    std::vector<float> floats(c.kind == Kind::kFloatSum ? c.elements : 0, 1.0f);
    std::vector<std::int64_t> ints(c.kind == Kind::kInt64Sum ? c.elements : 0, 1);
    std::vector<double> maxima(c.kind == Kind::kMax ? c.elements : 0, 1.0);
    std::vector<std::uint64_t> bits(c.kind == Kind::kOr ? c.elements : 0, 0);
    auto once = [&] {
      switch (c.kind) {
        case Kind::kInt64Sum:
          std::fill(ints.begin(), ints.begin() + 16, std::int64_t{1});
          comm->allreduce_sum(std::span<std::int64_t>(ints));
          break;
        case Kind::kFloatSum:
          std::fill(floats.begin(), floats.begin() + 16, 1.0f);  // keep values finite
          comm->allreduce_sum(std::span<float>(floats));
          break;
        case Kind::kMax:
          maxima[0] = comm->rank();
          comm->allreduce_max(std::span<double>(maxima));
          break;
        case Kind::kOr:
          bits[0] = std::uint64_t{1} << comm->rank() % 64;
          comm->allreduce_or(std::span<std::uint64_t>(bits));
          break;
        case Kind::kAny:
          comm->any(comm->rank() == 0);
          break;
      }
    };
    std::vector<std::vector<double>> times(modes.size());
    const int block = std::max(5, iterations / 10);
    for (int warm = 0; warm < 2; ++warm) {
      for (std::size_t mode = 0; mode < modes.size(); ++mode) {
        set_mode(mode);
        for (int i = 0; i < block; ++i) once();
      }
    }
    for (int done = 0; done < iterations; done += block) {
      for (std::size_t mode = 0; mode < modes.size(); ++mode) {
        set_mode(mode);
        comm->barrier();
        for (int i = 0; i < block; ++i) {
          const auto t0 = Clock::now();
          once();
          times[mode].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        }
      }
    }
    comm->set_deadline(0);
    if (comm->rank() == 0) {
      std::printf("%10zu %5s %7zu", c.elements, kind_name(c.kind), times[0].size());
      for (const auto& t : times) {
        const Stats st = stats(t);
        std::printf(" | %9.1f (%8.1f)", st.median_us, st.mean_us);
      }
      std::printf("\n");
    }
  }
  return 0;
}
