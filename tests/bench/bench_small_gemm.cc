// bench_small_gemm: trainer/model/small_gemm.h's kernels against libxsmm's JIT small-GEMM kernels
// at the shapes the recurrent layers run. Not a test: prints a table and `RESULT key=value ...`
// lines. Built only when libxsmm is found (launch/install_deps.sh --reference installs Debian's
// libxsmm-dev 1.17). One thread.
//
//   bench_small_gemm [--widths 1,2,4,8,16,32,64,128] [--repeats 11] [--min-ms 2]
//
// Shapes, all column-major float, accumulating (C += ...), leading dimensions = row counts:
//   step      C (M, w) += A (M, 32) B (32, w), M = G*32: 128 (LSTM), 96 (GRU), 32 (SimpleRNN).
//             The per-step recurrent product U^T h_{t-1} of forward; w = the step's width in the
//             packed layout (1 .. B).
//   step-bwd  C (32, w) += A (32, G*32) B (G*32, w): backward's dh_{t-1} = U dz_t (LSTM, GRU).
//   wgrad     C (128, 32) += A (128, K) B (32, K)^T: the LSTM weight gradient dU^T += dZ H^T.
//             gemm_nt_acc takes slices of 256 along K (reading B^T in place); libxsmm gets one JIT kernel for a 256 slice with LIBXSMM_GEMM_FLAG_TRANS_B,
//             called per slice. K = 256 (one slice) and K = 64000 (T*B = 500 x 128, a batch).
// libxsmm: libxsmm_smmdispatch (alpha = beta = 1), each kernel dispatched (JIT-compiled) once,
// before timing. small_gemm: gemm_nn(..., accumulate = true) and gemm_nt_acc.
// Timing: one measurement calls a kernel back to back for at least --min-ms (wall time); the two
// implementations alternate, --repeats times per shape; the table shows median GFLOP/s
// (2 M N K per call). Before timing, each shape's two results are compared on one call and the
// program exits 1 if they differ by more than 1e-5 relative to max |C|.
#include <libxsmm.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "trainer/model/small_gemm.h"

namespace {

using rnn_dist::model::detail::gemm_nn;
using rnn_dist::model::detail::gemm_nt_acc;
using Index = Eigen::Index;

struct Options {
  std::vector<int> widths{1, 2, 4, 8, 16, 32, 64, 128};
  int repeats = 11;
  double min_ms = 2.0;
};

[[noreturn]] void usage(const std::string& msg) {
  if (!msg.empty())
    std::fprintf(stderr, "bench_small_gemm: %s (see --help)\n", msg.c_str());
  else
    std::printf(
        "usage: bench_small_gemm [--widths 1,2,4,8,16,32,64,128] [--repeats 11] "
        "[--min-ms 2]\n"
        "  small_gemm.h (gemm_nn, gemm_nt_acc) against libxsmm JIT kernels at the\n"
        "  recurrent layers' shapes; median GFLOP/s of interleaved repeats, one thread.\n");
  std::exit(msg.empty() ? 0 : 2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") usage("");
    if (a != "--widths" && a != "--repeats" && a != "--min-ms") usage("unknown option '" + a + "'");
    if (i + 1 >= argc) usage("missing value after " + a);
    const std::string v = argv[++i];
    char* end = nullptr;
    if (a == "--widths") {
      o.widths.clear();
      std::stringstream ss(v);
      for (std::string w; std::getline(ss, w, ',');) {
        const long x = std::strtol(w.c_str(), &end, 10);
        if (w.empty() || *end != '\0' || x < 1 || x > 4096) usage("bad width '" + w + "'");
        o.widths.push_back(int(x));
      }
    } else if (a == "--repeats") {
      o.repeats = int(std::strtol(v.c_str(), &end, 10));
      if (v.empty() || *end != '\0' || o.repeats < 1) usage("bad value for --repeats: '" + v + "'");
    } else {  // --min-ms
      o.min_ms = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !(o.min_ms > 0))
        usage("bad value for --min-ms: '" + v + "'");
    }
  }
  return o;
}

using Clock = std::chrono::steady_clock;

// Seconds per call of f: calls it back to back, doubling the count until a batch lasts min_ms.
template <class F>
double seconds_per_call(F&& f, double min_ms, long& calls) {
  for (;;) {
    const auto t0 = Clock::now();
    for (long i = 0; i < calls; ++i) f();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (s * 1e3 >= min_ms) return s / double(calls);
    calls *= 2;
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<float> random_floats(std::size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0, m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    d = std::max(d, double(std::fabs(a[i] - b[i])));
    m = std::max(m, double(std::fabs(b[i])));
  }
  return m > 0 ? d / m : d;
}

struct Row {
  std::string kind;
  Index M, N, K;
};

// Times one shape; returns false if the two implementations disagree.
bool bench_shape(const Options& o, const Row& r) {
  std::mt19937 rng(unsigned(r.M * 7919 + r.N * 131 + r.K));
  const bool nt = r.kind == "wgrad";
  const Index M = r.M, N = r.N, K = r.K;
  const std::vector<float> A = random_floats(std::size_t(M * K), rng);
  // B is (K, N), or (N, K) for wgrad (C += A B^T).
  const std::vector<float> Bm = random_floats(std::size_t(K * N), rng);
  const std::vector<float> C0 = random_floats(std::size_t(M * N), rng);

  const libxsmm_blasint m = libxsmm_blasint(M), n = libxsmm_blasint(N);
  const libxsmm_blasint k = libxsmm_blasint(nt ? std::min<Index>(K, 256) : K);
  const libxsmm_blasint lda = m, ldb = nt ? n : k, ldc = m;
  const float alpha = 1.0f, beta = 1.0f;
  const int flags = nt ? LIBXSMM_GEMM_FLAG_TRANS_B : LIBXSMM_GEMM_FLAG_NONE;
  const libxsmm_smmfunction kernel =
      libxsmm_smmdispatch(m, n, k, &lda, &ldb, &ldc, &alpha, &beta, &flags, nullptr);
  if (kernel == nullptr) {
    std::printf("%-9s %4ld %4ld %6ld | libxsmm: no JIT kernel for this shape\n", r.kind.c_str(),
                long(M), long(N), long(K));
    return true;
  }
  if (nt && K % k != 0) {
    std::fprintf(stderr, "bench_small_gemm: wgrad K must be a multiple of 256\n");
    std::exit(2);
  }
  auto xsmm = [&](float* C) {
    if (!nt) {
      kernel(A.data(), Bm.data(), C);
      return;
    }
    for (Index k0 = 0; k0 < K; k0 += k) kernel(A.data() + k0 * M, Bm.data() + k0 * N, C);
  };
  auto ours = [&](float* C) {
    if (!nt) {
      gemm_nn(M, N, K, A.data(), M, Bm.data(), K, C, M, true);
      return;
    }
    Eigen::Map<Eigen::MatrixXf> Cm(C, M, N);
    Eigen::Map<const Eigen::MatrixXf> Am(A.data(), M, K), Btm(Bm.data(), N, K);
    gemm_nt_acc(Cm, Am, Btm);
  };

  std::vector<float> cx = C0, co = C0;
  xsmm(cx.data());
  ours(co.data());
  const double diff = max_rel_diff(co, cx);

  std::vector<double> gx, go;
  long calls_x = 1, calls_o = 1;
  const double flops = 2.0 * double(M) * double(N) * double(K);
  for (int rep = 0; rep < o.repeats; ++rep) {
    gx.push_back(flops / seconds_per_call([&] { xsmm(cx.data()); }, o.min_ms, calls_x) * 1e-9);
    go.push_back(flops / seconds_per_call([&] { ours(co.data()); }, o.min_ms, calls_o) * 1e-9);
  }
  const double mx = median(gx), mo = median(go);
  std::printf("%-9s %4ld %4ld %6ld | %8.1f | %8.1f | %6.2f | %.1e%s\n", r.kind.c_str(), long(M),
              long(N), long(K), mx, mo, mo / mx, diff, diff <= 1e-5 ? "" : "  MISMATCH");
  std::printf(
      "RESULT kind=%s M=%ld N=%ld K=%ld libxsmm_gflops=%.2f small_gemm_gflops=%.2f "
      "small_gemm_over_libxsmm=%.3f max_rel_diff=%.2e\n",
      r.kind.c_str(), long(M), long(N), long(K), mx, mo, mo / mx, diff);
  std::fflush(stdout);
  return diff <= 1e-5;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  libxsmm_init();
  std::printf(
      "bench_small_gemm: libxsmm %s (JIT target %s), small_gemm with Eigen SIMD %s; "
      "median of %d interleaved repeats of >= %.1f ms, one thread\n",
      LIBXSMM_CONFIG_VERSION, libxsmm_get_target_arch(), Eigen::SimdInstructionSetsInUse(),
      o.repeats, o.min_ms);
  std::printf("%-9s %4s %4s %6s | %8s | %8s | %6s | %s\n", "shape", "M", "N", "K", "libxsmm",
              "ours", "ours/x", "max rel diff");
  std::printf("%-26s | %8s | %8s |\n", "", "GFLOP/s", "GFLOP/s");
  std::vector<Row> rows;
  for (int G : {4, 3, 1})
    for (int w : o.widths) rows.push_back({"step", G * 32, w, 32});
  for (int G : {4, 3})  // SimpleRNN's backward (G = 1) is the forward "step" shape
    for (int w : o.widths) rows.push_back({"step-bwd", 32, w, G * 32});
  rows.push_back({"wgrad", 128, 32, 256});
  rows.push_back({"wgrad", 128, 32, 64000});
  bool ok = true;
  for (const Row& r : rows) ok = bench_shape(o, r) && ok;
  libxsmm_finalize();
  if (!ok) {
    std::fprintf(stderr, "bench_small_gemm: libxsmm and small_gemm disagree on some shape\n");
    return 1;
  }
  return 0;
}
