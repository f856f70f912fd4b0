// Micro-benchmark of the recurrent layers on the default model's shapes, against the single-core
// Eigen GEMM rate. Not a test: prints figures.
//
//   bench_layers [--T 500] [--batch 128] [--reps 5]     (build/tests/model/bench_layers --help)
//
// Model FLOPs of a layer with G gates: forward 2 (n + u) G u T B (input and recurrent products),
// backward twice that (dW, dU, dx and dh products). A whole training step of the default model
// (Embedding -> LSTM(32) -> Dense) is about 25 MFLOP per example at T = 500. The "packed" rows
// run the layout Model gives an unmasked pre-padded batch (recurrent.h): the same model FLOPs
// are counted, though only the real steps plus one shared padding column are computed.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "tests/model/layer_bench.h"
#include "trainer/model/gru.h"
#include "trainer/model/init.h"
#include "trainer/model/lstm.h"
#include "trainer/model/simple_rnn.h"

namespace {

using namespace rnn_dist::model;

// This thread's CPU time in seconds: on a shared, loaded machine it is much steadier than wall
// time (it does not count time the thread waits for a core), though still not immune to cache
// and memory-bandwidth contention.
double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Best of `reps` timings of f, in seconds of thread CPU time.
double best_time(int reps, const std::function<void()>& f) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const double t0 = cpu_seconds();
    f();
    best = std::min(best, cpu_seconds() - t0);
  }
  return best;
}

double gemm_gflops() {
  const int N = 1024;
  Matrix a = Matrix::Random(N, N), b = Matrix::Random(N, N), c(N, N);
  c.noalias() = a * b;  // warm-up
  const double s = best_time(10, [&] { c.noalias() = a * b; });
  return 2.0 * N * N * N / s * 1e-9;
}

struct Figures {
  double fwd_s, bwd_s;
};

Figures time_layer(std::unique_ptr<RecurrentLayer> layer, int T, int B, int reps,
                   const std::vector<std::uint8_t>* mask, const PackedLayout* packed) {
  bench::LayerRun run(std::move(layer), T, B, mask ? mask->data() : nullptr, packed);
  run.forward();  // warm-up: buffers grow
  run.backward();
  Figures f{1e30, 1e30};
  for (int r = 0; r < reps; ++r) {
    f.fwd_s = std::min(f.fwd_s, best_time(1, [&] { run.forward(); }));
    f.bwd_s = std::min(f.bwd_s, best_time(1, [&] { run.backward(); }));
  }
  return f;
}

struct Options {
  int T = 500, B = 128, reps = 5;
};

[[noreturn]] void help() {
  std::printf(
      "usage: bench_layers [--T 500] [--batch 128] [--reps 5] [--help]\n"
      "  forward/backward of LSTM/SimpleRNN/GRU(32) (full, masked, packed layouts): best of\n"
      "  --reps thread-CPU timings, against the one-thread Eigen GEMM rate\n");
  std::exit(0);
}

int to_int(const char* s, const char* what, int lo) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < lo || v > 1000000) {
    std::fprintf(stderr, "bench_layers: bad value for %s: '%s' (an integer >= %d)\n", what, s, lo);
    std::exit(2);
  }
  return int(v);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") help();
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_layers: missing value after %s\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--T")
      o.T = to_int(value(), "--T", 1);
    else if (a == "--batch")
      o.B = to_int(value(), "--batch", 1);
    else if (a == "--reps")
      o.reps = to_int(value(), "--reps", 1);
    else {
      std::fprintf(stderr, "bench_layers: unknown option '%s' (see --help)\n", a.c_str());
      std::exit(2);
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const int T = o.T, B = o.B, reps = o.reps;
  Eigen::setNbThreads(1);
  const double gemm = gemm_gflops();
  std::printf("Eigen %d.%d.%d, SIMD: %s, threads 1\n", EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION,
              EIGEN_MINOR_VERSION, Eigen::SimdInstructionSetsInUse());
  std::printf("GEMM 1024x1024x1024 float, one thread: %.1f GFLOP/s\n", gemm);
  std::printf("n=32 u=32 T=%d B=%d, best of %d (thread CPU time); model FLOPs: fwd 2(n+u)Gu per step-example, bwd 2x\n",
              T, B, reps);

  // IMDB-like mask: per-example lengths uniform in [50, T], 'pre' padding.
  std::vector<std::uint8_t> imdb_mask(std::size_t(T) * B);
  {
    std::mt19937_64 rng(3);
    for (int b = 0; b < B; ++b) {
      const int len = std::min(T, 50 + int(uniform01(rng) * float(T - 50 + 1)));
      for (int t = 0; t < T; ++t) imdb_mask[std::size_t(t) * B + b] = t >= T - len;
    }
  }
  // IMDB-like lengths for the packed rows (layer_bench.h), cut at T.
  const std::vector<int> lengths = bench::imdb_lengths(B, T, 4);
  const PackedLayout packed = bench::packed_layout(lengths, T);
  std::printf("packed rows: mean length %.1f, %.1f columns per example\n",
              double(std::accumulate(lengths.begin(), lengths.end(), 0L)) / B,
              double(packed.columns()) / B);
  struct Row {
    const char* name;
    std::function<std::unique_ptr<RecurrentLayer>()> make;
    int gates;
    const std::vector<std::uint8_t>* mask;
    const PackedLayout* packed = nullptr;
  };
  const std::vector<Row> rows = {
      {"LSTM(32)", [] { return std::make_unique<Lstm>(32, 32, false); }, 4, nullptr},
      {"LSTM(32) IMDB-like mask", [] { return std::make_unique<Lstm>(32, 32, false); }, 4, &imdb_mask},
      {"LSTM(32) return_sequences", [] { return std::make_unique<Lstm>(32, 32, true); }, 4, nullptr},
      {"LSTM(32) packed", [] { return std::make_unique<Lstm>(32, 32, false); }, 4, nullptr, &packed},
      {"SimpleRNN(32)", [] { return std::make_unique<SimpleRnn>(32, 32, false); }, 1, nullptr},
      {"SimpleRNN(32) packed", [] { return std::make_unique<SimpleRnn>(32, 32, false); }, 1, nullptr, &packed},
      {"GRU(32)", [] { return std::make_unique<Gru>(32, 32, false); }, 3, nullptr},
      {"GRU(32) packed", [] { return std::make_unique<Gru>(32, 32, false); }, 3, nullptr, &packed},
  };
  std::printf("%-28s %9s %9s %12s %10s %9s\n", "layer", "fwd ms", "bwd ms", "examples/s",
              "GFLOP/s", "% GEMM");
  for (const auto& row : rows) {
    const Figures f = time_layer(row.make(), T, B, reps, row.mask, row.packed);
    const double flops = 3.0 * 2.0 * (32 + 32) * row.gates * 32 * double(T) * B;  // fwd + bwd
    const double s = f.fwd_s + f.bwd_s;
    std::printf("%-28s %9.2f %9.2f %12.0f %10.1f %8.1f%%\n", row.name, f.fwd_s * 1e3, f.bwd_s * 1e3,
                B / s, flops / s * 1e-9, 100.0 * flops / s * 1e-9 / gemm);
  }
  return 0;
}
