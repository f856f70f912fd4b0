// bench_onednn: rnn_dist's recurrent layers against Intel oneDNN's RNN primitives, timed in one
// run so that the ratios are measured under the same conditions. Not a test: prints a table and
// `RESULT key=value ...` lines. Built only when oneDNN is found (launch/install_deps.sh
// --reference installs Debian's libdnnl-dev 2.6.3).
//
//   bench_onednn [--cells lstm,gru,gru_reset_before,simplernn] [--batch 128,64] [--threads 1,2]
//                [--T 500]
//                [--repeats 7] [--warmup 2] [--no-ftz] [--no-check] [--omit-src-iter]
//
// One step, on both sides: forward_training over T steps of B sequences (input 32, 32 units),
// then backward with the loss gradient at the last step only (dL/dy = 0.01 on the final output,
// as tests/model/bench_layers does; oneDNN receives it as diff_dst_layer, zero except the last
// step), computing the parameter gradients and the input gradient dx. GRU is oneDNN's lbr_gru
// (linear before reset = Keras reset_after, rnn_dist's GRU), gru_reset_before its plain gru
// (Keras reset_after=False), SimpleRNN its vanilla RNN with tanh.
// oneDNN computes every step of every example; rnn_dist runs twice: "unpacked", the full layout
// (the same T*B columns), and "packed", the layout Model gives a pre-padded IMDB-like batch
// (tests/model/layer_bench.h: log-normal lengths, the shared padding prefix computed once).
//
// Threads: Debian's libdnnl 2.6.3 uses OpenMP (DNNL_CPU_RUNTIME=OMP, libgomp), so its thread count
// is omp_set_num_threads(t), set before its primitives are created. rnn_dist's layers are
// single-threaded; with t threads the batch is split as the trainer splits work between threads
// (train::assign_by_cost over the examples' lengths), each part runs on its own layer replica on
// a thread of the same OpenMP pool, and the parts' gradients are summed (a float sum here; the
// trainer sums in fixed point).
// Timing: wall time; every repeat runs oneDNN, unpacked and packed in turn, and the table shows
// the medians. FTZ/DAZ are on unless --no-ftz: MXCSR is set with _mm_setcsr in the main thread and
// in every thread of the OpenMP team, and read back there.
// Before timing, a gradient check (T = 5, B = 3; n = u = 32, and n = 7, u = 5) feeds both
// implementations the same weights and inputs and compares output, parameter gradients and dx;
// the program exits 1 if some relative difference exceeds 1e-4 (--omit-src-iter shows it fail).
#include <omp.h>
#include <unistd.h>
#include <xmmintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tests/bench/onednn_rnn.h"
#include "tests/model/layer_bench.h"
#include "tests/model/layer_fixture.h"
#include "trainer/train/gradient_step.h"  // assign_by_cost

namespace {

using rnn_dist::bench::OnednnRnn;
using rnn_dist::model::bench::LayerRun;
using rnn_dist::model::testing::Kind;
namespace model = rnn_dist::model;

constexpr int kInput = 32, kUnits = 32;

struct Options {
  std::vector<Kind> cells{Kind::kLstm, Kind::kGru, Kind::kGruResetBefore, Kind::kSimpleRnn};
  std::vector<int> batches{128, 64};
  std::vector<int> threads{1, 2};
  int T = 500, repeats = 7, warmup = 2;
  bool ftz = true, check = true, explicit_initial_state = true;
};

const char* cell_name(Kind k) {
  switch (k) {
    case Kind::kLstm: return "lstm";
    case Kind::kGru: return "gru";
    case Kind::kGruResetBefore: return "gru_reset_before";
    case Kind::kSimpleRnn: return "simplernn";
  }
  return "?";
}

[[noreturn]] void usage(const std::string& msg) {
  if (!msg.empty())
    std::fprintf(stderr, "bench_onednn: %s (see --help)\n", msg.c_str());
  else
    std::printf(
        "usage: bench_onednn [--cells lstm,gru,gru_reset_before,simplernn] [--batch 128,64]\n"
        "                    [--threads 1,2]\n"
        "                    [--T 500] [--repeats 7] [--warmup 2] [--no-ftz] [--no-check]\n"
        "                    [--omit-src-iter]\n"
        "  rnn_dist's LSTM/GRU/SimpleRNN(32) layers (unpacked and packed) against oneDNN's RNN\n"
        "  primitives: forward + backward, loss at the last step, median ms per step.\n"
        "  --no-ftz         leave flush-to-zero / denormals-are-zero off (default: on)\n"
        "  --no-check       skip the gradient check against rnn_dist (T=5, B=3)\n"
        "  --omit-src-iter  give oneDNN no src_iter (zero initial state by default): the\n"
        "                   gradient check then fails for LSTM and SimpleRNN (oneDNN 2.6.3)\n");
  std::exit(msg.empty() ? 0 : 2);
}

int to_int(const std::string& s, const std::string& what, int lo) {
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || v < lo || v > 1000000)
    usage("bad value for " + what + ": '" + s + "'");
  return int(v);
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(item);
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") usage("");
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage("missing value after " + a);
      return argv[++i];
    };
    auto ints = [&](int lo) {
      std::vector<int> v;
      for (const auto& s : split_commas(value())) v.push_back(to_int(s, a, lo));
      if (v.empty()) usage("empty list after " + a);
      return v;
    };
    if (a == "--cells") {
      o.cells.clear();
      for (const auto& c : split_commas(value())) {
        if (c == "lstm")
          o.cells.push_back(Kind::kLstm);
        else if (c == "gru")
          o.cells.push_back(Kind::kGru);
        else if (c == "gru_reset_before")
          o.cells.push_back(Kind::kGruResetBefore);
        else if (c == "simplernn")
          o.cells.push_back(Kind::kSimpleRnn);
        else
          usage("unknown cell '" + c + "' (lstm, gru, gru_reset_before, simplernn)");
      }
    } else if (a == "--batch")
      o.batches = ints(1);
    else if (a == "--threads")
      o.threads = ints(1);
    else if (a == "--T")
      o.T = to_int(value(), a, 1);
    else if (a == "--repeats")
      o.repeats = to_int(value(), a, 1);
    else if (a == "--warmup")
      o.warmup = to_int(value(), a, 0);
    else if (a == "--no-ftz")
      o.ftz = false;
    else if (a == "--no-check")
      o.check = false;
    else if (a == "--omit-src-iter")
      o.explicit_initial_state = false;
    else
      usage("unknown option '" + a + "'");
  }
  return o;
}

// ---- MXCSR in every computing thread ----------------------------------------------------------

// MXCSR's control bits (rounding, exception masks, FTZ, DAZ), without the sticky exception flags
// (bits 0-5) that any computation may set.
constexpr unsigned kCsrControl = ~0x3Fu;

unsigned csr_for(bool ftz) {
  const unsigned bits = _MM_FLUSH_ZERO_MASK | _MM_DENORMALS_ZERO_MASK;
  return (_mm_getcsr() & kCsrControl & ~bits) | (ftz ? bits : 0u);
}

// Sets MXCSR in this thread and in each thread of an OpenMP team of `threads` (the pool that
// oneDNN and the rnn_dist replicas run on); true if every thread reads it back.
bool set_csr_everywhere(unsigned csr, int threads) {
  _mm_setcsr(csr);
  int bad = 0;
#pragma omp parallel num_threads(threads) reduction(+ : bad)
  {
    _mm_setcsr(csr);
    bad += (_mm_getcsr() & kCsrControl) != csr;
  }
  return bad == 0;
}

// True if this thread and every thread of a team of `threads` still has csr's control bits.
bool csr_everywhere(unsigned csr, int threads) {
  int bad = (_mm_getcsr() & kCsrControl) != csr;
#pragma omp parallel num_threads(threads) reduction(+ : bad)
  bad += (_mm_getcsr() & kCsrControl) != csr;
  return bad == 0;
}

// ---- Gradient check ---------------------------------------------------------------------------

// max |a - b| / max |b|, over n floats.
double rel_diff(const float* a, const float* b, std::size_t n) {
  double d = 0, m = 0;
  for (std::size_t i = 0; i < n; ++i) {
    d = std::max(d, double(std::fabs(a[i] - b[i])));
    m = std::max(m, double(std::fabs(b[i])));
  }
  return m > 0 ? d / m : d;
}

// One small case: the same weights (Keras init, then every parameter moved by U(-0.1, 0.1) so that
// biases are not zero), input and last-step loss gradient for rnn_dist and oneDNN. Prints every
// compared quantity; returns the largest relative difference.
double check_cell(Kind kind, int n, int u, bool explicit_state, const dnnl::engine& engine,
                  dnnl::stream& stream) {
  const int T = 5, B = 3;
  LayerRun run(model::testing::make_layer(kind, n, u, false), T, B, nullptr, nullptr, 11);
  std::mt19937_64 rng(12);
  for (const auto& t : run.parameter_layout().tensors())
    for (std::size_t i = 0; i < t.size; ++i)
      run.params()[t.offset + i] += 0.1f * (2.0f * model::uniform01(rng) - 1.0f);
  run.x() = model::testing::random_matrix(n, T * B, rng);
  run.dy() = model::testing::random_matrix(u, B, rng);
  run.zero_grads();
  run.forward();
  run.backward();

  OnednnRnn d(kind, T, B, n, u, engine, explicit_state);
  d.set_weights(run.params().data(), run.parameter_layout(), "l");
  std::memcpy(d.src_layer(), run.x().data(), sizeof(float) * std::size_t(n) * T * B);
  const std::size_t last = std::size_t(T - 1) * B * u;  // offset of step T-1 in (u, T*B)
  std::memcpy(d.diff_dst_layer() + last, run.dy().data(), sizeof(float) * std::size_t(u) * B);
  d.forward(stream);
  d.backward(stream);
  std::vector<float> g(run.grads().size(), 0.0f);
  d.add_gradients(g.data(), run.parameter_layout(), "l");

  std::printf("check %-16s n=%-2d u=%-2d T=%d B=%d  max |oneDNN - rnn_dist| / max |rnn_dist|:",
              cell_name(kind), n, u, T, B);
  double worst = rel_diff(d.dst_layer() + last, run.y().data(), std::size_t(u) * B);
  std::printf(" y %.1e", worst);
  for (const auto& t : run.parameter_layout().tensors()) {
    const double r = rel_diff(g.data() + t.offset, run.grads().data() + t.offset, t.size);
    std::printf(", d%s %.1e", t.name.substr(2).c_str(), r);
    worst = std::max(worst, r);
  }
  const double rdx = rel_diff(d.diff_src_layer(), run.dx().data(), std::size_t(n) * T * B);
  worst = std::max(worst, rdx);
  std::printf(", dx %.1e  %s\n", rdx, worst <= 1e-4 ? "ok" : "MISMATCH");
  std::printf("RESULT check cell=%s n=%d u=%d T=%d B=%d max_rel=%.3e pass=%d\n", cell_name(kind), n,
              u, T, B, worst, worst <= 1e-4 ? 1 : 0);
  return worst;
}

// ---- Timing -----------------------------------------------------------------------------------

using Clock = std::chrono::steady_clock;

template <class F>
double time_ms(F&& f) {
  const auto t0 = Clock::now();
  f();
  return 1e3 * std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// rnn_dist with one layer replica per thread, each on its part of the batch.
struct Replicas {
  std::vector<std::unique_ptr<LayerRun>> runs;
  std::int64_t columns = 0;  // the columns the replicas compute (T*B unpacked)

  // lengths[b]: example b's real tokens. Unpacked, every example costs T and the parts are equal;
  // packed, the parts are balanced by length and each gets the packed layout of its examples.
  Replicas(Kind kind, int T, const std::vector<int>& lengths, int threads, bool packed) {
    std::vector<double> cost(lengths.begin(), lengths.end());
    if (!packed) std::fill(cost.begin(), cost.end(), 1.0);
    const std::vector<int> part = rnn_dist::train::assign_by_cost(cost, threads);
    for (int p = 0; p < threads; ++p) {
      std::vector<int> mine;
      for (std::size_t b = 0; b < lengths.size(); ++b)
        if (part[b] == p) mine.push_back(lengths[b]);
      if (mine.empty()) continue;
      const model::PackedLayout layout = model::bench::packed_layout(mine, T);
      runs.push_back(
          std::make_unique<LayerRun>(model::testing::make_layer(kind, kInput, kUnits, false), T,
                                     int(mine.size()), nullptr, packed ? &layout : nullptr, 1));
      columns += runs.back()->layout().columns();
    }
  }
  void forward() {
#pragma omp parallel for num_threads(int(runs.size())) schedule(static, 1)
    for (std::size_t i = 0; i < runs.size(); ++i) runs[i]->forward();
  }
  // Each replica's gradient from zero, then the sum in replica 0 (as a step needs one gradient).
  void backward() {
#pragma omp parallel for num_threads(int(runs.size())) schedule(static, 1)
    for (std::size_t i = 0; i < runs.size(); ++i) {
      runs[i]->zero_grads();
      runs[i]->backward();
    }
    auto& g0 = runs[0]->grads();
    for (std::size_t i = 1; i < runs.size(); ++i)
      for (std::size_t j = 0; j < g0.size(); ++j) g0[j] += runs[i]->grads()[j];
  }
};

struct Series {
  std::vector<double> fwd, bwd, total;
  void add(double f, double b) {
    fwd.push_back(f);
    bwd.push_back(b);
    total.push_back(f + b);
  }
};

void run_case(const Options& o, Kind kind, int B, int threads, const dnnl::engine& engine,
              dnnl::stream& stream) {
  omp_set_num_threads(threads);
  const unsigned csr = csr_for(o.ftz);
  if (!set_csr_everywhere(csr, threads)) {
    std::fprintf(stderr, "bench_onednn: could not set MXCSR in every thread\n");
    std::exit(1);
  }
  const std::vector<int> lengths = model::bench::imdb_lengths(B, o.T, 4);
  Replicas full(kind, o.T, lengths, threads, false), packed(kind, o.T, lengths, threads, true);
  OnednnRnn d(kind, o.T, B, kInput, kUnits, engine, o.explicit_initial_state);
  d.set_weights(full.runs[0]->params().data(), full.runs[0]->parameter_layout(), "l");
  {  // the same input distribution and loss gradient as LayerRun's
    std::mt19937_64 rng(1);
    model::uniform({d.src_layer(), std::size_t(kInput) * o.T * B}, -0.05f, 0.05f, rng);
    float* dy = d.diff_dst_layer() + std::size_t(o.T - 1) * B * kUnits;
    std::fill(dy, dy + std::size_t(kUnits) * B, 0.01f);
  }
  for (int w = 0; w < o.warmup; ++w) {
    d.forward(stream);
    d.backward(stream);
    full.forward();
    full.backward();
    packed.forward();
    packed.backward();
  }
  Series sd, sf, sp;
  for (int r = 0; r < o.repeats; ++r) {
    const double df = time_ms([&] { d.forward(stream); });
    sd.add(df, time_ms([&] { d.backward(stream); }));
    const double ff = time_ms([&] { full.forward(); });
    sf.add(ff, time_ms([&] { full.backward(); }));
    const double pf = time_ms([&] { packed.forward(); });
    sp.add(pf, time_ms([&] { packed.backward(); }));
  }
  const bool csr_kept = csr_everywhere(csr, threads);
  const double md = median(sd.total), mf = median(sf.total), mp = median(sp.total);
  const double cols = double(packed.columns) / B;
  std::printf(
      "%-16s %4d %4d | %8.2f (%6.2f + %6.2f) | %8.2f (%6.2f + %6.2f) | %8.2f | %6.2fx %6.2fx"
      "%s\n",
      cell_name(kind), B, threads, md, median(sd.fwd), median(sd.bwd), mf, median(sf.fwd),
      median(sf.bwd), mp, md / mf, md / mp, csr_kept ? "" : "  (MXCSR changed!)");
  std::printf(
      "RESULT cell=%s batch=%d threads=%d T=%d ftz=%d repeats=%d onednn_ms=%.3f "
      "onednn_fwd_ms=%.3f onednn_bwd_ms=%.3f unpacked_ms=%.3f unpacked_fwd_ms=%.3f "
      "unpacked_bwd_ms=%.3f packed_ms=%.3f packed_fwd_ms=%.3f packed_bwd_ms=%.3f "
      "onednn_over_unpacked=%.3f onednn_over_packed=%.3f packed_columns_per_example=%.1f "
      "gflops_onednn=%.2f\n",
      cell_name(kind), B, threads, o.T, o.ftz ? 1 : 0, o.repeats, md, median(sd.fwd),
      median(sd.bwd), mf, median(sf.fwd), median(sf.bwd), mp, median(sp.fwd), median(sp.bwd),
      md / mf, md / mp, cols,
      3.0 * 2.0 * (kInput + kUnits) * rnn_dist::model::testing::gate_count(kind) * kUnits * double(o.T) * B / md * 1e-6);
  std::fflush(stdout);
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line, model_name = "?";
  bool avx512 = false;
  while (std::getline(f, line)) {
    if (model_name == "?" && line.rfind("model name", 0) == 0)
      model_name = line.substr(line.find(':') + 2);
    if (line.rfind("flags", 0) == 0 && line.find(" avx512f") != std::string::npos) avx512 = true;
  }
  return model_name + (avx512 ? ", AVX-512F" : ", no AVX-512");
}

const char* isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "other";
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  Eigen::setNbThreads(1);
  const dnnl::version_t* v = dnnl::version();
  std::printf(
      "bench_onednn: %ld cores (%s); oneDNN %d.%d.%d (CPU runtime OpenMP, ISA %s); "
      "Eigen SIMD %s\n",
      sysconf(_SC_NPROCESSORS_ONLN), cpu_model().c_str(), v->major, v->minor, v->patch,
      isa_name(dnnl::get_effective_cpu_isa()), Eigen::SimdInstructionSetsInUse());
  std::printf(
      "T=%d input %d units %d; forward + backward, loss at the last step; FTZ/DAZ %s; "
      "median of %d interleaved repeats (+%d warm-up), wall time\n",
      o.T, kInput, kUnits, o.ftz ? "on" : "off", o.repeats, o.warmup);
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);

  if (o.check) {
    omp_set_num_threads(1);
    set_csr_everywhere(csr_for(o.ftz), 1);
    double worst = 0;
    for (Kind k : o.cells)
      for (auto [n, u] : {std::pair{kInput, kUnits}, std::pair{7, 5}})
        worst = std::max(worst, check_cell(k, n, u, o.explicit_initial_state, engine, stream));
    if (worst > 1e-4) {
      std::fprintf(stderr,
                   "bench_onednn: oneDNN and rnn_dist disagree (max relative difference "
                   "%.2e > 1e-4): not the same computation\n",
                   worst);
      return 1;
    }
  }

  for (Kind k : o.cells) {
    const OnednnRnn probe(k, o.T, o.batches.front(), kInput, kUnits, engine,
                          o.explicit_initial_state);
    std::printf("oneDNN %s: %s\n", cell_name(k), probe.implementation().c_str());
  }
  std::printf("%-16s %4s %4s | %-26s | %-26s | %8s | %7s %7s\n", "cell", "B", "thr",
              "oneDNN ms (fwd + bwd)", "rnn_dist unpacked ms", "packed", "/unpack", "/packed");
  for (Kind k : o.cells)
    for (int B : o.batches)
      for (int t : o.threads) run_case(o, k, B, t, engine, stream);
  return 0;
}
