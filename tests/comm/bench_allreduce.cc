// Time per all-reduce of float buffers at the run's -np: Open MPI's blocking MPI_Allreduce
// (deadline off) against comm/'s two algorithms under a deadline (with arrival tracking): the
// ring of non-blocking point-to-point messages, and, when all ranks are on one node, the sum
// through a shared window (the default there). Also the default model's gradient as training
// sends it: 137,000 int64 values.
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
  struct Case {
    std::size_t elements;
    int iterations;
    bool int64;
  };
  // 136k: the default model's gradient after the row-sparse packing; 330k: all of it.
  const Case cases[] = {{40000, 4000, false}, {136000, 2000, false}, {137000, 2000, true},
                        {330000, 1000, false}, {4000000, 100, false}};
  if (comm->rank() == 0) {
    std::printf("bench_allreduce: %d rank(s); median (mean) microseconds per all-reduce\n", comm->size());
    std::printf("%16s %7s", "elements", "iters");
    for (const auto& m : modes) std::printf(" | %20s", m.first);
    std::printf("\n");
  }
  for (const Case& c : cases) {
    const int iterations = std::max(10, static_cast<int>(c.iterations * scale));
    std::vector<float> floats(c.int64 ? 0 : c.elements, 1.0f);
    std::vector<std::int64_t> ints(c.int64 ? c.elements : 0, 1);
    auto once = [&] {
      if (c.int64) {
        std::fill(ints.begin(), ints.begin() + 16, std::int64_t{1});
        comm->allreduce_sum(std::span<std::int64_t>(ints));
      } else {
        std::fill(floats.begin(), floats.begin() + 16, 1.0f);  // keep values finite
        comm->allreduce_sum(std::span<float>(floats));
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
      std::printf("%10zu %5s %7zu", c.elements, c.int64 ? "int64" : "float", times[0].size());
      for (const auto& t : times) {
        const Stats st = stats(t);
        std::printf(" | %9.1f (%8.1f)", st.median_us, st.mean_us);
      }
      std::printf("\n");
    }
  }
  return 0;
}
