#include <gtest/gtest.h>

#include <cmath>
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
  EXPECT_NEAR(sums.loss_sum, expected, 1e-9);
  EXPECT_EQ(sums.count, 3);
  EXPECT_EQ(sums.correct, 2);  // z=0 predicts negative (p = 0.5 is not > 0.5)
}

TEST(BinaryCrossEntropy, StaysFiniteForHugeLogits) {
  const std::vector<float> z{1000.0f, -1000.0f}, y{0.0f, 1.0f};
  std::vector<float> dz(2);
  MetricSums sums;
  binary_cross_entropy(z, y, 1.0f, dz, sums);
  EXPECT_NEAR(sums.loss_sum, 2000.0, 1e-6);
  EXPECT_FLOAT_EQ(dz[0], 1.0f);
  EXPECT_FLOAT_EQ(dz[1], -1.0f);
}

TEST(MetricSums, AddUpAcrossParts) {
  MetricSums a{1.0, 2, 4}, b{3.0, 1, 4};
  a += b;
  EXPECT_DOUBLE_EQ(a.loss(), 0.5);
  EXPECT_DOUBLE_EQ(a.accuracy(), 3.0 / 8);
}

}  // namespace
}  // namespace rnn_dist::train
