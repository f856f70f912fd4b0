// Optimizer updates against the formulas written out by hand (Keras 3 conventions).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "trainer/optim/optimizer.h"

namespace rnn_dist::optim {
namespace {

TEST(RmsProp, FollowsKerasUpdateWithEpsilonInsideTheRoot) {
  OptimizerConfig c;  // defaults: lr 1e-3, rho 0.9, epsilon 1e-7
  auto opt = make_optimizer(c, 3);
  std::vector<float> w{1.0f, -2.0f, 0.5f};
  const std::vector<float> g1{0.1f, -0.2f, 0.0f}, g2{0.3f, 0.1f, 1e-4f};
  std::vector<double> v(3, 0.0), ref(w.begin(), w.end());
  for (const auto* g : {&g1, &g2}) {
    opt->step(w, *g, c.lr);
    for (int i = 0; i < 3; ++i) {
      v[i] = 0.9 * v[i] + 0.1 * (*g)[i] * (*g)[i];
      ref[i] -= 1e-3 * (*g)[i] / std::sqrt(v[i] + 1e-7);
    }
  }
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(w[i], ref[i], 1e-6) << "element " << i;
  EXPECT_EQ(opt->iterations(), 2u);
  ASSERT_EQ(opt->slots().size(), 1u);
  EXPECT_EQ(opt->slots()[0].first, "v");
  EXPECT_NEAR((*opt->slots()[0].second)[0], v[0], 1e-6 * v[0]);  // float state vs the double reference
}

TEST(Adam, AppliesBiasCorrectionLikeKeras) {
  OptimizerConfig c;
  c.name = "adam";
  auto opt = make_optimizer(c, 1);
  std::vector<float> w{0.0f};
  const float g = 0.5f;
  opt->step(w, std::vector<float>{g}, c.lr);
  // After one step m_hat = g, v_hat = g^2, so the step is lr * g / (|g| + eps') ~= lr.
  EXPECT_NEAR(w[0], -1e-3, 1e-6);
}

TEST(Sgd, MomentumAccumulatesVelocity) {
  OptimizerConfig c;
  c.name = "sgd";
  c.lr = 0.1;
  c.momentum = 0.9;
  auto opt = make_optimizer(c, 1);
  std::vector<float> w{1.0f};
  opt->step(w, std::vector<float>{1.0f}, c.lr);  // u = -0.1, w = 0.9
  opt->step(w, std::vector<float>{1.0f}, c.lr);  // u = -0.19, w = 0.71
  EXPECT_NEAR(w[0], 0.71f, 1e-6);
}

TEST(ClipByGlobalNorm, ScalesOnlyWhenAboveTheLimit) {
  std::vector<float> g{3.0f, 4.0f};
  EXPECT_DOUBLE_EQ(clip_by_global_norm(g, 10.0), 5.0);
  EXPECT_FLOAT_EQ(g[0], 3.0f);
  EXPECT_DOUBLE_EQ(clip_by_global_norm(g, 1.0), 5.0);
  EXPECT_NEAR(global_norm(g), 1.0, 1e-6);
}

TEST(OptimizerConfig, RejectsBadValuesNamingTheFlag) {
  OptimizerConfig c;
  c.name = "adagrad";
  EXPECT_THROW(
      {
        try {
          validate(c);
        } catch (const OptimizerError& e) {
          EXPECT_NE(std::string(e.what()).find("adagrad"), std::string::npos);
          throw;
        }
      },
      OptimizerError);
  c = {};
  c.lr = 0;
  EXPECT_THROW(validate(c), OptimizerError);
  c = {};
  c.rho = 1.0;
  EXPECT_THROW(validate(c), OptimizerError);
  // Every range message names the flag and the value given.
  auto message = [](const OptimizerConfig& bad) {
    try {
      validate(bad);
    } catch (const OptimizerError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  c = {};
  c.beta_1 = 1.5;
  EXPECT_EQ(message(c), "--beta-1 1.5 must be in [0, 1)");
  c = {};
  c.beta_2 = -0.25;
  EXPECT_EQ(message(c), "--beta-2 -0.25 must be in [0, 1)");
  c = {};
  c.momentum = 2;
  EXPECT_EQ(message(c), "--momentum 2 must be in [0, 1)");
  c = {};
  c.epsilon = 0;
  EXPECT_EQ(message(c), "--epsilon 0 must be > 0");
  c = {};
  c.clip_norm = -1;
  EXPECT_EQ(message(c), "--clip-norm -1 must be >= 0 (0 disables clipping)");
}

}  // namespace
}  // namespace rnn_dist::optim
