#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "trainer/train/loss.h"

namespace rnn_dist::train {
namespace {

TEST(BinaryCrossEntropy, MatchesTheDefinitionForModerateLogits) {
  const std::vector<float> z{-2.0f, 0.0f, 1.5f}, y{0.0f, 1.0f, 1.0f};
  std::vector<float> dz(3);
  MetricSums sums;
  binary_cross_entropy(z, y, 0.5f, dz, sums);
  double expected = 0;
  for (int i = 0; i < 3; ++i) {
    const double p = 1 / (1 + std::exp(-double(z[i])));
    expected += -(y[i] * std::log(p) + (1 - y[i]) * std::log(1 - p));
    EXPECT_NEAR(dz[i], (p - y[i]) * 0.5, 1e-7);
  }
  EXPECT_NEAR(sums.loss_sum(), expected, 1e-9);
  EXPECT_EQ(sums.count, 3);
  EXPECT_EQ(sums.correct, 2);  // z=0 predicts negative (p = 0.5 is not > 0.5)
}

TEST(BinaryCrossEntropy, StaysFiniteForHugeLogits) {
  const std::vector<float> z{1000.0f, -1000.0f}, y{0.0f, 1.0f};
  std::vector<float> dz(2);
  MetricSums sums;
  binary_cross_entropy(z, y, 1.0f, dz, sums);
  EXPECT_NEAR(sums.loss_sum(), 2000.0, 1e-6);
  EXPECT_FLOAT_EQ(dz[0], 1.0f);
  EXPECT_FLOAT_EQ(dz[1], -1.0f);
}

TEST(MetricSums, AddUpAcrossParts) {
  MetricSums a, b;
  for (double loss : {0.25, 0.75}) a.add(loss, true);
  a.add(0.0, false);
  a.add(0.0, false);
  b.add(1.5, true);
  for (int i = 0; i < 3; ++i) b.add(0.5, false);
  a += b;
  EXPECT_DOUBLE_EQ(a.loss(), 0.5);
  EXPECT_DOUBLE_EQ(a.accuracy(), 3.0 / 8);
}

// The loss sum is an integer count of quanta, so adding the same examples in any grouping
// gives the same bits (a double sum does not: (a + b) + c != a + (b + c) in general).
TEST(MetricSums, AreTheSameBitsInAnyOrder) {
  std::vector<double> losses;
  for (int i = 0; i < 1000; ++i) losses.push_back(std::exp(-0.01 * i) * (1 + 1e-9 * i * i));
  MetricSums forward, backward, pairs;
  for (double l : losses) forward.add(l, l > 0.5);
  for (auto it = losses.rbegin(); it != losses.rend(); ++it) backward.add(*it, *it > 0.5);
  for (std::size_t i = 0; i < losses.size(); i += 2) {
    MetricSums two;
    two.add(losses[i], losses[i] > 0.5);
    two.add(losses[i + 1], losses[i + 1] > 0.5);
    pairs += two;
  }
  EXPECT_EQ(forward, backward);
  EXPECT_EQ(forward, pairs);
  double plain = 0;
  for (double l : losses) plain += l;
  EXPECT_NEAR(forward.loss_sum(), plain, 1000 * MetricSums::kLossQuantum);
}

TEST(MetricSums, ANonFiniteLossMakesTheMeanNaN) {
  MetricSums s;
  s.add(0.5, true);
  s.add(std::numeric_limits<double>::infinity(), false);
  EXPECT_EQ(s.nonfinite, 1);
  EXPECT_EQ(s.count, 2);
  EXPECT_TRUE(std::isnan(s.loss()));
}

}  // namespace
}  // namespace rnn_dist::train
