// bench_train: single-process training-step throughput of rnn_dist models, with an Eigen GEMM
// as the machine reference. Not a test: it prints figures (and one `RESULT key=value ...` line
// per case for tests/bench/run_benchmarks.sh).
//
//   bench_train [--layers lstm:32 [--layers simplernn:32 ...]] [--embed 32] [--num-words 10000]
//               [--batch 128] [--micro-batch 16] [--maxlen 500] [--threads 1[,2...]] [--steps 20]
//               [--warmup 2] [--mask] [--bucket-window 50] [--no-pack] [--denormals flush|keep]
//               [--seed 1] [--no-gemm]
//
// Each --layers value is one model ("lstm:32" or a stack "lstm:32,lstm:32"); repeat it to bench
// several models. --threads takes a comma list. One step is the Trainer's own step on one process
// (trainer/train/trainer.cc, train_step): train::GradientStep::compute (micro-batches on
// --threads threads, forward, loss, backward, the exact fixed-point sum) on a LocalCommunicator,
// then optimizer->step (rmsprop, Keras defaults). Subnormals are flushed to zero as in the
// trainer (--denormals keep: IEEE, as `rnn_dist --denormals keep`).
//
// Batches: example lengths are drawn from an IMDB-like log-normal (median 174, sigma 0.755, so
// mean ~232 and ~8% longer than 500 as in the IMDB training split), clipped to [10, maxlen]; an
// example is the start id 1 and random ids in [4, num_words), which the trainer's encoder pads
// in front with zeros to maxlen, as Keras's pad_sequences('pre') does.
//   default: every batch is T = maxlen, no masking (the Keras tutorial model). The model packs
//            the batch (model.h: the shared padding prefix is computed once); --no-pack makes it
//            compute every step of every example, as before packing existed. The warm-up runs
//            the batch with the most real tokens, so buffers have their steady-state size.
//   --mask:  the model masks padding (spec.mask_padding), and batches are formed as the Trainer
//            does with masking: data::BatchOrder with length bucketing (sorted windows of
//            --bucket-window batches, 0 = no bucketing) over 20,000 examples (the 80% training
//            split), and each batch is cut to T = its longest member. The timed batches are
//            evenly spaced quantiles of T over the epoch's batches (a representative mean T); the
//            warm-up runs the longest batch, so buffers have their steady-state size.
// Model FLOPs are the model's own (nominal) count, 3 x forward per example at the batch's T, as
// the Keras model does them; "computed" FLOPs count the columns the layers really ran.
#include <sys/resource.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "comm/local_communicator.h"
#include "trainer/data/batch_order.h"
#include "trainer/model/denormals.h"
#include "trainer/model/model.h"
#include "trainer/model/spec.h"
#include "trainer/optim/optimizer.h"
#include "trainer/train/gradient_step.h"
#include "trainer/train/loss.h"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU seconds of the whole process (all its threads). On a loaded machine the CPU time of a
// 1-thread run is much steadier than its wall time: it leaves out the time spent waiting for a core.
double process_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

struct Options {
  std::vector<std::string> layers;
  int embed = 32;
  int num_words = 10000;
  int batch = 128;
  int micro_batch = 16;
  int maxlen = 500;
  std::vector<int> threads{1};
  int steps = 20;
  int warmup = 2;
  bool mask = false;
  bool pack = true;
  int bucket_window = 50;
  bool flush = true;
  std::uint64_t seed = 1;
  bool gemm = true;
};

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr,
               "bench_train: %s\nusage: bench_train [--layers lstm:32]... [--embed 32] "
               "[--num-words 10000] [--batch 128] [--micro-batch 16] [--maxlen 500] [--threads 1[,2]] "
               "[--steps 20] [--warmup 2] [--mask] [--bucket-window 50] [--no-pack] "
               "[--denormals flush|keep] [--seed 1] [--no-gemm]\n",
               msg);
  std::exit(2);
}

int to_int(const std::string& s, const char* what, int lo) {
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || v < lo || v > 1000000000)
    usage((std::string("bad value for ") + what + ": '" + s + "'").c_str());
  return static_cast<int>(v);
}

Options parse(int argc, char** argv) {
  Options o;
  bool threads_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value after " + a).c_str());
      return argv[++i];
    };
    if (a == "--layers") o.layers.push_back(value());
    else if (a == "--embed") o.embed = to_int(value(), "--embed", 1);
    else if (a == "--num-words") o.num_words = to_int(value(), "--num-words", 4);
    else if (a == "--batch") o.batch = to_int(value(), "--batch", 1);
    else if (a == "--micro-batch") o.micro_batch = to_int(value(), "--micro-batch", 1);
    else if (a == "--maxlen") o.maxlen = to_int(value(), "--maxlen", 1);
    else if (a == "--threads") {
      if (!threads_given) o.threads.clear();
      threads_given = true;
      std::stringstream ss(value());
      std::string item;
      while (std::getline(ss, item, ',')) o.threads.push_back(to_int(item, "--threads", 1));
    } else if (a == "--steps") o.steps = to_int(value(), "--steps", 1);
    else if (a == "--warmup") o.warmup = to_int(value(), "--warmup", 0);
    else if (a == "--mask") o.mask = true;
    else if (a == "--bucket-window") o.bucket_window = to_int(value(), "--bucket-window", 0);
    else if (a == "--no-pack") o.pack = false;
    else if (a == "--denormals") {
      const std::string v = value();
      if (v != "flush" && v != "keep") usage(("--denormals '" + v + "' must be flush or keep").c_str());
      o.flush = v == "flush";
    }
    else if (a == "--seed") o.seed = static_cast<std::uint64_t>(to_int(value(), "--seed", 0));
    else if (a == "--no-gemm") o.gemm = false;
    else if (a == "-h" || a == "--help") usage("help");
    else usage(("unknown option " + a).c_str());
  }
  if (o.layers.empty()) o.layers.push_back("lstm:32");
  return o;
}

// ---- Machine reference: Eigen float GEMM ------------------------------------------------------

// Best-of-`reps` GFLOP/s of C = A * B with A (m, k), B (k, n), on the current Eigen thread count.
double gemm_gflops(int m, int k, int n, int reps, int inner) {
  Eigen::MatrixXf A = Eigen::MatrixXf::Random(m, k), B = Eigen::MatrixXf::Random(k, n);
  Eigen::MatrixXf C(m, n);
  C.noalias() = A * B;  // warm-up
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    for (int i = 0; i < inner; ++i) {
      C.noalias() = A * B;
      A(0, 0) += C(0, 0) * 1e-30f;  // keep the calls from being merged
    }
    best = std::min(best, since(t0) / inner);
  }
  return 2.0 * m * k * n / best / 1e9;
}

// ---- Synthetic IMDB-like batches --------------------------------------------------------------

// The examples of every batch, as a prepared split holds them (uncapped ids, kStartId 1 first):
// example e has lengths[e] tokens, random ids in [4, num_words), a random label.
struct SyntheticSplit {
  std::vector<std::uint8_t> labels, ratings;
  std::vector<std::uint64_t> rows{0};
  std::vector<std::uint32_t> tokens;
  std::vector<std::uint32_t> lengths;  // effective lengths (the trainer's costs)
  std::vector<std::vector<std::uint32_t>> batches;  // warm-up, then timed: example ids

  void add(std::uint32_t length, int num_words, std::mt19937_64& rng) {
    std::uniform_int_distribution<std::uint32_t> word(4, std::uint32_t(num_words - 1));
    tokens.push_back(1);
    for (std::uint32_t t = 1; t < length; ++t) tokens.push_back(word(rng));
    rows.push_back(tokens.size());
    labels.push_back(std::uint8_t(rng() & 1));
    ratings.push_back(labels.back() ? 8 : 2);
    lengths.push_back(length);
  }
  rnn_dist::data::SplitView view() const {
    return {"train", labels.size(), labels.data(), ratings.data(), rows.data(), tokens.data()};
  }
  std::int64_t real_steps(std::size_t batch) const {
    std::int64_t n = 0;
    for (std::uint32_t id : batches[batch]) n += lengths[id];
    return n;
  }
};

std::vector<std::uint32_t> draw_lengths(std::size_t n, int maxlen, std::mt19937_64& rng) {
  // IMDB training reviews: median 174, mean 233.7, 8.1% longer than 500 tokens.
  std::lognormal_distribution<double> len(std::log(174.0), 0.755);
  std::vector<std::uint32_t> out(n);
  for (auto& l : out)
    l = static_cast<std::uint32_t>(std::clamp(std::lround(len(rng)), 10L, long(maxlen)));
  return out;
}

// The batches of one run: warm-up + timed steps.
SyntheticSplit make_batches(const Options& o) {
  std::mt19937_64 rng(o.seed);
  SyntheticSplit d;
  if (!o.mask) {
    for (int s = 0; s < o.steps; ++s) {
      std::vector<std::uint32_t> ids;
      for (std::uint32_t l : draw_lengths(std::size_t(o.batch), o.maxlen, rng)) {
        ids.push_back(std::uint32_t(d.lengths.size()));
        d.add(l, o.num_words, rng);
      }
      d.batches.push_back(std::move(ids));
    }
    // Warm up on the batch with the most real tokens: packed, it needs the largest buffers.
    std::size_t most = 0;
    for (std::size_t b = 1; b < d.batches.size(); ++b)
      if (d.real_steps(b) > d.real_steps(most)) most = b;
    const auto largest = d.batches[most];
    for (int s = 0; s < o.warmup; ++s) d.batches.insert(d.batches.begin(), largest);
    return d;
  }
  const std::size_t n = 20000;  // 80% of the 25,000 training reviews
  for (std::uint32_t l : draw_lengths(n, o.maxlen, rng)) d.add(l, o.num_words, rng);
  std::vector<std::uint32_t> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = std::uint32_t(i);
  rnn_dist::data::BucketOptions bucket;
  bucket.lengths = d.lengths;
  if (o.bucket_window > 0) bucket.window_batches = o.bucket_window;
  rnn_dist::data::BatchOrder order(ids, o.batch, o.seed, o.bucket_window > 0 ? &bucket : nullptr);
  // The epoch's full batches, with their T (longest member).
  std::vector<std::vector<std::uint32_t>> cuts;
  std::vector<std::uint32_t> T;
  for (std::size_t s = 0; s < order.num_batches(); ++s) {
    auto b = order.batch(0, s);
    if (int(b.size()) != o.batch) continue;  // skip a partial batch
    std::uint32_t t = 0;
    for (std::uint32_t id : b) t = std::max(t, d.lengths[id]);
    cuts.push_back(std::move(b));
    T.push_back(t);
  }
  // Warm-up: the epoch's longest batch (it grows the model's buffers to their steady-state size,
  // as the first minutes of training do). Timed: a representative sample of `steps` batches,
  // evenly spaced quantiles of T over the epoch (so a short run has the epoch's mean T), in the
  // epoch's random order.
  std::vector<std::size_t> by_T(cuts.size());
  for (std::size_t i = 0; i < by_T.size(); ++i) by_T[i] = i;
  std::stable_sort(by_T.begin(), by_T.end(), [&](std::size_t a, std::size_t b) { return T[a] < T[b]; });
  std::vector<std::size_t> pick;
  for (int s = 0; s < o.steps; ++s)
    pick.push_back(by_T[std::size_t((s + 0.5) * double(by_T.size()) / o.steps)]);
  std::sort(pick.begin(), pick.end());  // epoch order
  for (int s = 0; s < o.warmup; ++s) pick.insert(pick.begin(), by_T.back());
  for (std::size_t i : pick) d.batches.push_back(cuts[i]);
  return d;
}

// ---- The benchmark ----------------------------------------------------------------------------

int gates_of(const std::string& type) {
  if (type == "lstm") return 4;
  if (type == "gru") return 3;
  return 1;  // simplernn
}

// Forward multiply-add FLOPs per example per time step of the recurrent stack.
double flops_per_example_step(const rnn_dist::model::ModelSpec& spec) {
  double f = 0;
  int n = spec.embed_dim;
  for (const auto& l : spec.layers) {
    f += 2.0 * gates_of(l.type) * l.units * double(n + l.units);
    n = l.units;
  }
  return f;
}

long minor_faults() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

long peak_rss_kb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

struct Phase {
  double grad = 0, sum = 0, opt = 0;  // forward + loss + backward on the threads; the exact sum
  double total() const { return grad + sum + opt; }
};

void run_case(const Options& o, const std::string& layers, int threads, double gemm1) {
  Eigen::setNbThreads(1);  // as the trainer: the layers' kernels are single-threaded
  rnn_dist::model::ModelSpec spec;
  spec.num_words = o.num_words;
  spec.embed_dim = o.embed;
  spec.layers = rnn_dist::model::parse_layers(layers);
  spec.mask_padding = o.mask;
  rnn_dist::model::Model model(spec);
  model.init(o.seed);
  rnn_dist::optim::OptimizerConfig cfg;  // rmsprop, lr 1e-3, rho 0.9, epsilon 1e-7
  auto optimizer = rnn_dist::optim::make_optimizer(cfg, model.params().size());
  const SyntheticSplit data = make_batches(o);
  rnn_dist::data::SequenceOptions sequence;
  sequence.num_words = o.num_words;
  sequence.maxlen = o.maxlen;
  rnn_dist::comm::LocalCommunicator comm;
  rnn_dist::train::StepOptions step_options;
  step_options.batch_size = o.batch;
  step_options.micro_batch = o.micro_batch;
  step_options.threads = threads;
  step_options.packing = o.pack;
  rnn_dist::train::GradientStep step(model, comm, data.view(), data.lengths, sequence, step_options);

  rnn_dist::train::MetricSums sums;
  Phase ph;
  double examples = 0, steps_T = 0, real_steps = 0, computed = 0;
  long faults = 0;
  double cpu = 0;
  for (std::size_t s = 0; s < data.batches.size(); ++s) {
    const double cpu0 = process_cpu_seconds();
    const long faults0 = minor_faults();
    const auto& batch = data.batches[s];
    rnn_dist::train::StepTimes times;
    auto t0 = Clock::now();
    const auto result = step.compute(batch, times);
    const double t_step = since(t0);
    t0 = Clock::now();
    optimizer->step(model.params(), model.grads(), cfg.lr);
    const double t_opt = since(t0);
    if (s < std::size_t(o.warmup)) continue;
    cpu += process_cpu_seconds() - cpu0;
    faults += minor_faults() - faults0;
    ph.grad += t_step - times.comm;
    ph.sum += times.comm;
    ph.opt += t_opt;
    sums += result.sums;
    examples += double(batch.size());
    // The model's own length: maxlen when padded, the longest of each micro-batch when masked.
    for (std::size_t m = 0; m < batch.size(); m += std::size_t(o.micro_batch)) {
      std::uint32_t longest = 0;
      const std::size_t end = std::min(batch.size(), m + std::size_t(o.micro_batch));
      for (std::size_t i = m; i < end; ++i) longest = std::max(longest, data.lengths[batch[i]]);
      steps_T += double(o.mask ? longest : std::uint32_t(o.maxlen)) * double(end - m);
    }
    for (std::uint32_t id : batch) real_steps += data.lengths[id];
    computed += double(result.columns);
  }
  const double secs = ph.total();
  const double eps = examples / secs;
  const double ms_step = 1e3 * secs / o.steps;
  const double model_flops = 3.0 * flops_per_example_step(spec) * steps_T;  // as processed
  const double gflops = model_flops / secs / 1e9;
  const double computed_gflops = 3.0 * flops_per_example_step(spec) * computed / secs / 1e9;
  const double pct = gemm1 > 0 ? 100.0 * gflops / gemm1 : 0;
  const double mean_T = steps_T / examples;
  const char* mode = o.mask ? (o.bucket_window > 0 ? "mask+bucket" : "mask")
                            : (o.pack ? "padded" : "padded-nopack");
  std::printf(
      "%-22s %-11s thr %d | %8.1f examples/s  %8.2f ms/step | grad %7.2f  sum %5.3f  opt %5.3f "
      "ms | mean T %5.1f (real %5.1f, computed %5.1f) | %6.2f model GFLOP/s = %5.1f%% of 1-thread "
      "GEMM, %6.2f computed | %ld page faults/step\n",
      layers.c_str(), mode, threads, eps, ms_step, 1e3 * ph.grad / o.steps, 1e3 * ph.sum / o.steps,
      1e3 * ph.opt / o.steps, mean_T, real_steps / examples, computed / examples, gflops, pct,
      computed_gflops, faults / o.steps);
  std::printf(
      "RESULT layers=%s mode=%s threads=%d batch=%d micro_batch=%d maxlen=%d steps=%d "
      "examples_per_s=%.2f ms_per_step=%.3f grad_ms=%.3f sum_ms=%.3f opt_ms=%.3f mean_T=%.2f "
      "model_gflops=%.3f pct_gemm1=%.2f gemm1_gflops=%.2f computed_T=%.2f computed_gflops=%.3f "
      "faults_per_step=%ld loss=%.4f cpu_ms_per_step=%.3f\n",
      layers.c_str(), mode, threads, o.batch, o.micro_batch, o.maxlen, o.steps, eps, ms_step,
      1e3 * ph.grad / o.steps, 1e3 * ph.sum / o.steps, 1e3 * ph.opt / o.steps, mean_T, gflops, pct,
      gemm1, computed / examples, computed_gflops, faults / o.steps, sums.loss(),
      1e3 * cpu / o.steps);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  rnn_dist::model::set_flush_denormals(o.flush);  // as rnn_dist --denormals
  std::printf("bench_train: batch %d in micro-batches of %d, maxlen %d, embed %d, num_words %d, "
              "steps %d (+%d warm-up), %s%s, Eigen %d.%d.%d, SIMD %s\n",
              o.batch, o.micro_batch, o.maxlen, o.embed, o.num_words, o.steps, o.warmup,
              o.mask  ? "masked, batches cut to their longest member"
              : o.pack ? "padded to maxlen, no mask, packed"
                       : "padded to maxlen, no mask, not packed",
              o.flush ? ", subnormals flushed (FTZ/DAZ)" : ", subnormals kept", EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION,
              EIGEN_MINOR_VERSION, Eigen::SimdInstructionSetsInUse());
  std::printf("Model FLOPs per example = 3 x forward, forward = 2*T*sum_layers(G*u*(n+u)) "
              "(G = 4 LSTM, 3 GRU, 1 SimpleRNN; embedding, dense and elementwise work ignored; "
              "T = the batch's length: the model's own count; 'computed' counts the columns the "
              "layers ran).\n");

  double gemm1 = 0;
  if (o.gemm) {
    Eigen::setNbThreads(1);
    gemm1 = gemm_gflops(1024, 1024, 1024, 10, 1);
    std::printf("Reference: Eigen 1024x1024x1024 float GEMM, 1 thread: %.1f GFLOP/s (best of 10)",
                gemm1);
    for (int t : o.threads) {
      if (t == 1) continue;
      Eigen::setNbThreads(t);
      std::printf("; %d threads: %.1f GFLOP/s", t, gemm_gflops(1024, 1024, 1024, 5, 1));
    }
    std::printf("\n");
    // The shape of one recurrent step of the first layer: (G*u, u) x (u, B).
    Eigen::setNbThreads(1);
    const auto first = rnn_dist::model::parse_layers(o.layers.front()).front();
    const int G = gates_of(first.type) * first.units;
    std::printf("Reference: Eigen per-step recurrent GEMM (%d x %d) * (%d x %d), 1 thread: %.1f "
                "GFLOP/s\n",
                G, first.units, first.units, o.batch,
                gemm_gflops(G, first.units, o.batch, 5, 200));
  }
  for (const auto& layers : o.layers)
    for (int t : o.threads) run_case(o, layers, t, gemm1);
  std::printf("Peak RSS: %.1f MB\n", peak_rss_kb() / 1024.0);
  std::printf("RESULT peak_rss_kb=%ld\n", peak_rss_kb());
  return 0;
}
