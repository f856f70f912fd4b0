// GradientStep on one process (LocalCommunicator): the step's gradient and metric sums are the
// same bits with 1, 2 or 3 threads (the threaded path, the default of a single process), and
// are the gradient of the batch's mean loss. The multi-rank side is tests/e2e/dist_reproducible.sh.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "comm/local_communicator.h"
#include "trainer/data/encoding.h"
#include "trainer/train/exact_sum.h"
#include "trainer/optim/optimizer.h"
#include "trainer/train/gradient_step.h"

namespace rnn_dist::train {
namespace {

// 300 synthetic reviews of 3..70 tokens (ids 4..299; id 1 starts each, as in prepared data).
struct SyntheticSplit {
  std::vector<std::uint8_t> labels, ratings;
  std::vector<std::uint64_t> rows{0};
  std::vector<std::uint32_t> tokens;
  std::vector<std::uint32_t> lengths;  // effective lengths at maxlen
  SyntheticSplit(int n, int maxlen) {
    std::mt19937 rng(7);
    for (int i = 0; i < n; ++i) {
      const int len = 3 + static_cast<int>(rng() % 68);
      labels.push_back(static_cast<std::uint8_t>(rng() % 2));
      ratings.push_back(labels.back() ? 8 : 2);
      tokens.push_back(1);
      for (int t = 1; t < len; ++t) tokens.push_back(4 + rng() % 296);
      rows.push_back(tokens.size());
      lengths.push_back(static_cast<std::uint32_t>(std::min(len, maxlen)));
    }
  }
  data::SplitView view() const {
    return data::SplitView("train", labels.size(), labels.data(), ratings.data(), rows.data(),
                           tokens.data());
  }
};

struct StepSetup {
  model::ModelSpec spec;
  data::SequenceOptions sequence;
};

StepSetup make_setup(const std::string& layers, bool masked) {
  StepSetup s;
  s.spec.num_words = 300;
  s.spec.embed_dim = 8;
  s.spec.layers = model::parse_layers(layers);
  s.spec.mask_padding = masked;
  s.sequence.num_words = 300;
  s.sequence.maxlen = 50;
  return s;
}

struct StepRun {
  std::vector<std::vector<float>> grads;  // after each step
  std::vector<MetricSums> sums;
};

// Three batches (the last one partial) of the same parameters through a GradientStep.
StepRun run_steps(const StepSetup& s, const SyntheticSplit& data, int threads, int micro_batch,
                  bool float_sum = false) {
  comm::LocalCommunicator comm;
  model::Model model(s.spec);
  model.init(11);
  StepOptions o;
  o.batch_size = 40;
  o.micro_batch = micro_batch;
  o.threads = threads;
  o.float_sum = float_sum;
  GradientStep step(model, comm, data.view(), data.lengths, s.sequence, o);
  StepRun run;
  for (int b = 0; b < 3; ++b) {
    std::vector<std::uint32_t> batch;
    const int size = b == 2 ? 27 : 40;
    for (int i = 0; i < size; ++i) batch.push_back(static_cast<std::uint32_t>((b * 97 + i * 7) % 300));
    StepTimes times;
    const auto result = step.compute(batch, times);
    EXPECT_TRUE(result.finite);
    run.grads.emplace_back(model.grads().begin(), model.grads().end());
    run.sums.push_back(result.sums);
  }
  return run;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class GradientStepThreads
    : public ::testing::TestWithParam<std::tuple<const char*, bool>> {};

TEST_P(GradientStepThreads, GiveTheSameBitsWithOneTwoOrThreeThreads) {
  const auto [layers, masked] = GetParam();
  const StepSetup s = make_setup(layers, masked);
  const SyntheticSplit data(300, s.sequence.maxlen);
  const StepRun one = run_steps(s, data, 1, 8);
  for (int threads : {2, 3}) {
    const StepRun many = run_steps(s, data, threads, 8);
    for (std::size_t b = 0; b < one.grads.size(); ++b) {
      EXPECT_TRUE(same_bits(one.grads[b], many.grads[b]))
          << threads << " threads, batch " << b << ": the gradient differs from 1 thread's";
      EXPECT_EQ(one.sums[b], many.sums[b]) << threads << " threads, batch " << b;
    }
  }
  // Control: the plain float sum (threads' parts added as computed) does depend on the threads,
  // so the equality above is not a property of this data.
  const StepRun float_one = run_steps(s, data, 1, 8, true), float_three = run_steps(s, data, 3, 8, true);
  bool differs = false;
  for (std::size_t b = 0; b < one.grads.size(); ++b)
    differs = differs || !same_bits(float_one.grads[b], float_three.grads[b]);
  EXPECT_TRUE(differs) << "the float sum gave the same bits with 1 and 3 threads";
  // A different micro-batch is a different (valid) computation: same metrics, gradient within
  // float rounding, and, as a control, not necessarily the same bits.
  const StepRun other = run_steps(s, data, 1, 5);
  for (std::size_t b = 0; b < one.grads.size(); ++b) {
    EXPECT_EQ(one.sums[b].count, other.sums[b].count);
    EXPECT_EQ(one.sums[b].correct, other.sums[b].correct);
    for (std::size_t i = 0; i < one.grads[b].size(); ++i)
      ASSERT_NEAR(one.grads[b][i], other.grads[b][i], 1e-6) << "batch " << b << " value " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, GradientStepThreads,
                         ::testing::Values(std::make_tuple("lstm:6", false),
                                           std::make_tuple("gru:5,simplernn:4", false),
                                           std::make_tuple("lstm:6", true)));

// The gradient of the mean loss of `batch` by one plain forward and backward of the whole batch.
std::vector<float> plain_mean_gradient(const StepSetup& s, const SyntheticSplit& data,
                                       std::span<const std::uint32_t> batch, MetricSums& sums) {
  model::Model model(s.spec);
  model.init(11);
  BatchEncoder encoder(s.sequence, false);
  const int T = encoder.encode(data.view(), batch);
  std::vector<float> logits(batch.size()), dlogits(batch.size());
  model.zero_grads();
  model.forward(encoder.tokens(), T, static_cast<int>(batch.size()), logits);
  binary_cross_entropy(logits, encoder.labels(), 1.0f / float(batch.size()), dlogits, sums);
  model.backward(dlogits);
  return {model.grads().begin(), model.grads().end()};
}

// The step's gradient is the gradient of the batch's mean loss (Keras: an epoch's last, shorter
// batch is divided by its own size, not by --batch-size): one forward and backward of the whole
// batch on a plain Model gives it up to float rounding. Batch 0 has 40 examples (= batch_size),
// run_steps' batch 2 only 27.
TEST(GradientStep, IsTheGradientOfTheBatchMeanLoss) {
  const StepSetup s = make_setup("lstm:6", false);
  const SyntheticSplit data(300, s.sequence.maxlen);
  const StepRun run = run_steps(s, data, 2, 8);
  for (const auto& [index, size] : {std::pair{0, 40}, std::pair{2, 27}}) {
    std::vector<std::uint32_t> batch;
    for (int i = 0; i < size; ++i) batch.push_back(static_cast<std::uint32_t>((index * 97 + i * 7) % 300));
    MetricSums sums;
    const auto g = plain_mean_gradient(s, data, batch, sums);
    double largest = 0;
    for (float v : g) largest = std::max(largest, double(std::abs(v)));
    ASSERT_GT(largest, 0);
    for (std::size_t i = 0; i < g.size(); ++i)
      ASSERT_NEAR(run.grads[index][i], g[i], 1e-5 * largest) << "batch " << index << " value " << i;
    EXPECT_EQ(run.sums[index].count, size);
    EXPECT_EQ(run.sums[index].correct, sums.correct);
    EXPECT_NEAR(run.sums[index].loss_sum(), sums.loss_sum(), 1e-6);
  }
}

// The trainer's update with SGD (lr 1, no momentum) is parameters minus the mean gradient: with
// RMSprop a wrong divisor would hardly show (its step is nearly invariant to the gradient's
// scale), with SGD the step would be off by the same factor.
TEST(GradientStep, WithSgdTheUpdateIsTheMeanGradient) {
  const StepSetup s = make_setup("gru:5", false);
  const SyntheticSplit data(300, s.sequence.maxlen);
  comm::LocalCommunicator comm;
  model::Model model(s.spec);
  model.init(11);
  const std::vector<float> before(model.params().begin(), model.params().end());
  optim::OptimizerConfig sgd;
  sgd.name = "sgd";
  sgd.lr = 1.0;
  auto optimizer = optim::make_optimizer(sgd, model.params().size());
  StepOptions o;
  o.batch_size = 40;
  o.micro_batch = 8;
  o.threads = 2;
  GradientStep step(model, comm, data.view(), data.lengths, s.sequence, o);
  std::vector<std::uint32_t> batch;
  for (int i = 0; i < 23; ++i) batch.push_back(static_cast<std::uint32_t>(i * 11 % 300));  // short
  StepTimes times;
  ASSERT_TRUE(step.compute(batch, times).finite);
  optimizer->step(model.params(), model.grads(), sgd.lr);
  MetricSums sums;
  const auto g = plain_mean_gradient(s, data, batch, sums);
  double largest = 0;
  for (float v : g) largest = std::max(largest, double(std::abs(v)));
  ASSERT_GT(largest, 1e-4);
  for (std::size_t i = 0; i < g.size(); ++i)
    ASSERT_NEAR(before[i] - model.params()[i], g[i], 1e-5 * largest + 1e-7) << "value " << i;
}

TEST(AssignByCost, BalancesLongestFirstAndIsDeterministic) {
  const std::vector<double> cost{5, 1, 4, 4, 2, 8};
  const auto part = assign_by_cost(cost, 2);
  // 8 -> 0, 5 -> 1, 4 -> 1 (9), 4 -> 0 (12)... each to the least loaded part.
  std::vector<double> load(2, 0);
  for (std::size_t i = 0; i < cost.size(); ++i) load[static_cast<std::size_t>(part[i])] += cost[i];
  EXPECT_EQ(load[0] + load[1], 24);
  EXPECT_LE(std::abs(load[0] - load[1]), 2);
  EXPECT_EQ(part, assign_by_cost(cost, 2));
  EXPECT_EQ(assign_by_cost(cost, 1), std::vector<int>(cost.size(), 0));
  // More parts than items: every item alone.
  const auto spread = assign_by_cost(cost, 8);
  std::vector<int> sorted(spread);
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
}

// Fixed point: integer sums are the same bits in any order; back in float they are the
// correctly rounded sum for terms that are exact in the quantum.
TEST(ExactSum, IsTheSameInAnyOrderAndRoundsOnce) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0, 1);
  std::vector<std::vector<float>> terms(16, std::vector<float>(257));
  float largest = 0;
  for (auto& t : terms)
    for (float& v : t) {
      v = normal(rng) * std::exp(normal(rng) * 3);
      largest = std::max(largest, std::abs(v));
    }
  const int e = fixed_exponent(largest);
  EXPECT_LT(double(largest) * std::ldexp(1.0, e), std::ldexp(1.0, kFixedBits));
  EXPECT_GE(double(largest) * std::ldexp(1.0, e), std::ldexp(1.0, kFixedBits - 1));
  std::vector<std::int64_t> forward(257, 0), backward(257, 0);
  for (const auto& t : terms) add_fixed(t, e, forward.data());
  for (auto it = terms.rbegin(); it != terms.rend(); ++it) add_fixed(*it, e, backward.data());
  EXPECT_EQ(forward, backward);
  std::vector<float> out(257);
  from_fixed(forward.data(), e, out);
  for (std::size_t i = 0; i < out.size(); ++i) {
    double exact = 0;
    for (const auto& t : terms) exact += double(t[i]);  // 16 terms: double is near exact
    EXPECT_NEAR(out[i], exact, std::abs(exact) * 1.2e-7 + 16 * std::ldexp(1.0, -e)) << i;
  }
  // Rounding to nearest even at the quantum, negative values too.
  std::vector<std::int64_t> q(4, 0);
  const std::vector<float> halves{0.5f, 1.5f, -0.5f, -2.5f};
  add_fixed(halves, 0, q.data());
  EXPECT_EQ(q, (std::vector<std::int64_t>{0, 2, 0, -2}));
  EXPECT_EQ(fixed_exponent(0), 0);
}

}  // namespace
}  // namespace rnn_dist::train
