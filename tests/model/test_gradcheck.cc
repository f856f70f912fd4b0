// The gradient checker itself: it must pass a correct gradient and catch wrong ones.
#include <gtest/gtest.h>

#include "gradcheck.h"
#include "layer_fixture.h"

namespace rnn_dist::model::testing {
namespace {

struct LstmProblem {
  Net net;
  Matrix x, y, w, dx;
  int T = 5, B = 3;
  LstmProblem() {
    net.add(std::make_unique<Lstm>(3, 4, false), "lstm");
    net.init(11, 0.3f);
    std::mt19937_64 rng(12);
    x = random_matrix(3, T * B, rng);
    w = random_matrix(4, B, rng);
    y.resize(4, B);
    dx.resize(3, T * B);
    loss();
    net.layers[0]->backward(net.params.data(), net.grads.data(), w, dx);
  }
  double loss() {
    net.layers[0]->forward(net.params.data(), x, nullptr, T, B, y);
    return weighted_sum({y.data(), std::size_t(y.size())}, {w.data(), std::size_t(w.size())});
  }
  std::vector<GradCheckTensor> tensors(std::span<const float> grads) {
    return {{"params", {net.params.data(), net.params.size()}, grads}};
  }
};

TEST(GradCheck, PassesCorrectGradient) {
  LstmProblem p;
  const auto res = check_gradients([&] { return p.loss(); }, p.tensors(p.net.grads));
  EXPECT_TRUE(res.ok) << res.report();
  EXPECT_EQ(res.checked, p.net.params.size());
}

TEST(GradCheck, DetectsScaledGradient) {
  LstmProblem p;
  std::vector<float> wrong = p.net.grads;
  for (float& g : wrong) g *= 1.01f;
  const auto res = check_gradients([&] { return p.loss(); }, p.tensors(wrong));
  EXPECT_FALSE(res.ok) << res.report();
  std::printf("[gradcheck] 1.01 x gradient: %s\n", res.report().c_str());
}

TEST(GradCheck, DetectsOneWrongEntryAndNamesIt) {
  LstmProblem p;
  std::vector<float> wrong = p.net.grads;
  const std::size_t bad = p.net.layout.find("lstm/recurrent_kernel").offset + 5;
  wrong[bad] += 0.01f;
  const auto res = check_gradients([&] { return p.loss(); }, p.tensors(wrong));
  EXPECT_FALSE(res.ok);
  EXPECT_EQ(res.failures, 1u) << res.report();
  EXPECT_EQ(res.worst_index, bad) << res.report();
}

TEST(GradCheck, DetectsMissingGateGradient) {
  // A typical bug: dropping the forget-gate term. Zero the gradient of the forget-gate bias.
  LstmProblem p;
  std::vector<float> wrong = p.net.grads;
  const std::size_t bias = p.net.layout.find("lstm/bias").offset;
  for (std::size_t i = 4; i < 8; ++i) wrong[bias + i] = 0.0f;
  const auto res = check_gradients([&] { return p.loss(); }, p.tensors(wrong));
  EXPECT_FALSE(res.ok) << res.report();
}

}  // namespace
}  // namespace rnn_dist::model::testing
