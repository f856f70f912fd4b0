// Micro-benchmark of the recurrent layers on the default model's shapes, against the single-core
// Eigen GEMM rate. Not a test: prints figures.
//
//   bench_layers [T=500] [B=128] [reps=5]
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
#include <vector>

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

// The layout Model::pack makes for examples of these lengths, pre-padded to T.
PackedLayout packed_layout(const std::vector<int>& lengths, int T) {
  std::vector<int> started(static_cast<std::size_t>(T), 0);  // started[t]: examples begun by t
  for (int len : lengths)
    if (len > 0) ++started[std::size_t(T - len)];
  for (int t = 1; t < T; ++t) started[std::size_t(t)] += started[std::size_t(t - 1)];
  PackedLayout l;
  l.set_shared_prefix(T, int(lengths.size()), started);
  return l;
}

Figures time_layer(RecurrentLayer& layer, int T, int B, int reps, const std::vector<std::uint8_t>* mask,
                   const PackedLayout* packed) {
  if (packed != nullptr) {
    const Eigen::Index P = packed->columns();
    const int n = layer.input_dim(), u = layer.units();
    ParameterLayout layout;
    layer.declare(layout, "l");
    std::vector<float> params(layout.buffer_size()), grads(layout.buffer_size());
    std::mt19937_64 rng(1);
    layer.init(params, rng);
    Matrix x(n, P);
    uniform({x.data(), std::size_t(x.size())}, -0.05f, 0.05f, rng);
    Matrix y(u, layer.return_sequences() ? P : B), dy = Matrix::Constant(y.rows(), y.cols(), 0.01f);
    Matrix dx(n, P);
    layer.forward_packed(params.data(), x, *packed, nullptr, y);  // warm-up: buffers grow
    layer.backward(params.data(), grads.data(), dy, dx);
    Figures f{1e30, 1e30};
    for (int r = 0; r < reps; ++r) {
      f.fwd_s = std::min(f.fwd_s, best_time(1, [&] { layer.forward_packed(params.data(), x, *packed, nullptr, y); }));
      f.bwd_s = std::min(f.bwd_s, best_time(1, [&] { layer.backward(params.data(), grads.data(), dy, dx); }));
    }
    return f;
  }
  const int n = layer.input_dim(), u = layer.units();
  ParameterLayout layout;
  layer.declare(layout, "l");
  std::vector<float> params(layout.buffer_size()), grads(layout.buffer_size());
  std::mt19937_64 rng(1);
  layer.init(params, rng);
  Matrix x(n, Eigen::Index(T) * B);
  uniform({x.data(), std::size_t(x.size())}, -0.05f, 0.05f, rng);
  Matrix y(u, layer.return_sequences() ? T * B : B), dy = Matrix::Constant(y.rows(), y.cols(), 0.01f);
  Matrix dx(n, Eigen::Index(T) * B);
  const std::uint8_t* m = mask ? mask->data() : nullptr;
  layer.forward(params.data(), x, m, T, B, y);  // warm-up: buffers grow
  layer.backward(params.data(), grads.data(), dy, dx);
  Figures f{1e30, 1e30};
  for (int r = 0; r < reps; ++r) {
    f.fwd_s = std::min(f.fwd_s, best_time(1, [&] { layer.forward(params.data(), x, m, T, B, y); }));
    f.bwd_s = std::min(f.bwd_s, best_time(1, [&] { layer.backward(params.data(), grads.data(), dy, dx); }));
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  const int T = argc > 1 ? std::atoi(argv[1]) : 500;
  const int B = argc > 2 ? std::atoi(argv[2]) : 128;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 5;
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
  // IMDB-like lengths for the packed rows: the training split's (median 174, about 8% longer
  // than 500 tokens; log-normal, as tests/bench/bench_train.cc draws them), cut at T.
  std::vector<int> lengths(static_cast<std::size_t>(B));
  {
    std::mt19937_64 rng(4);
    std::lognormal_distribution<double> len(std::log(174.0), 0.755);
    for (int& l : lengths) l = int(std::clamp(std::lround(len(rng)), 10L, long(T)));
  }
  const PackedLayout packed = packed_layout(lengths, T);
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
    auto layer = row.make();
    const Figures f = time_layer(*layer, T, B, reps, row.mask, row.packed);
    const double flops = 3.0 * 2.0 * (32 + 32) * row.gates * 32 * double(T) * B;  // fwd + bwd
    const double s = f.fwd_s + f.bwd_s;
    std::printf("%-28s %9.2f %9.2f %12.0f %10.1f %8.1f%%\n", row.name, f.fwd_s * 1e3, f.bwd_s * 1e3,
                B / s, flops / s * 1e-9, 100.0 * flops / s * 1e-9 / gemm);
  }
  return 0;
}
