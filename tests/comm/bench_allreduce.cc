// Time per all-reduce of float buffers at the run's -np: Open MPI's blocking MPI_Allreduce
// (deadline off) against comm/'s default, the ring of non-blocking point-to-point messages polled
// against a deadline (with arrival tracking).
//
//   mpirun -np 2 build/tests/comm/bench_allreduce [--scale F]
//
// The two paths alternate in blocks of iterations so that drift (other load, frequency) hits both.
// Reported: median and mean over all iterations on rank 0, after a barrier before each block.
#include <algorithm>
#include <chrono>
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
  auto comm = std::make_unique<MpiCommunicator>(&argc, &argv);
  auto set_mode = [&](int mode) {
    comm->set_deadline(mode == 0 ? 0.0 : 60.0);
    comm->set_sum_algorithm(mode == 0 ? MpiCommunicator::SumAlgorithm::kMpiBlocking
                                      : MpiCommunicator::SumAlgorithm::kRing);
  };
  double scale = 1.0;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--scale") scale = std::stod(argv[i + 1]);
  }
  struct Case {
    std::size_t floats;
    int iterations;
  };
  // 136k: the default model's gradient after the row-sparse packing; 330k: all of it.
  const Case cases[] = {{40000, 4000}, {136000, 2000}, {330000, 1000}, {4000000, 100}};
  if (comm->rank() == 0) {
    std::printf("bench_allreduce: %d rank(s); times per all-reduce in microseconds\n", comm->size());
    std::printf("%10s %8s | %14s %14s | %14s %14s | %8s\n", "floats", "iters", "blocking med",
                "blocking mean", "ring med", "ring mean", "med diff");
  }
  for (const Case& c : cases) {
    const int iterations = std::max(10, static_cast<int>(c.iterations * scale));
    std::vector<float> buffer(c.floats, 1.0f);
    std::vector<double> times[2];
    const int block = std::max(5, iterations / 10);
    for (int warm = 0; warm < 2; ++warm) {
      for (int mode = 0; mode < 2; ++mode) {
        set_mode(mode);
        for (int i = 0; i < block; ++i) comm->allreduce_sum(std::span<float>(buffer));
      }
    }
    for (int done = 0; done < iterations; done += block) {
      for (int mode = 0; mode < 2; ++mode) {
        set_mode(mode);
        comm->barrier();
        for (int i = 0; i < block; ++i) {
          std::fill(buffer.begin(), buffer.begin() + 16, 1.0f);  // keep values finite
          const auto t0 = Clock::now();
          comm->allreduce_sum(std::span<float>(buffer));
          times[mode].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        }
      }
    }
    comm->set_deadline(0);
    const Stats b = stats(times[0]);
    const Stats d = stats(times[1]);
    if (comm->rank() == 0) {
      std::printf("%10zu %8zu | %14.1f %14.1f | %14.1f %14.1f | %+7.1f%%\n", c.floats, times[0].size(),
                  b.median_us, b.mean_us, d.median_us, d.mean_us,
                  100.0 * (d.median_us - b.median_us) / b.median_us);
    }
  }
  return 0;
}
