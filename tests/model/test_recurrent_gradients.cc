// Finite-difference checks of SimpleRnn, Lstm and Gru backward: every parameter tensor and dx,
// with and without masks, return_sequences true and false, and a three-layer stack.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "gradcheck.h"
#include "layer_fixture.h"

namespace rnn_dist::model::testing {
namespace {

enum class MaskKind {
  kNone,
  kMixed,    // pre padding, post padding, a fully masked example, a hole; no all-masked step
  kAllSteps  // steps 0 and T-1 masked for every example (the layer skips them whole)
};

std::vector<std::uint8_t> mask_for(MaskKind k) {
  switch (k) {
    case MaskKind::kNone: return {};
    case MaskKind::kMixed: return make_mask({"00111", "11100", "00000", "10111"});
    case MaskKind::kAllSteps: return make_mask({"01110", "00110", "00000"});
  }
  return {};
}
int batch_for(MaskKind k) { return k == MaskKind::kMixed ? 4 : 3; }
const char* mask_name(MaskKind k) {
  return k == MaskKind::kNone ? "NoMask" : k == MaskKind::kMixed ? "MixedMask" : "AllMaskedSteps";
}

// Checks d(sum(w .* y))/d(params, x) of a stack `net` on input x against finite differences.
GradCheckResult check_stack(Net& net, Matrix& x, const std::vector<std::uint8_t>& mask, int T,
                            int B, std::mt19937_64& rng) {
  const std::uint8_t* m = mask.empty() ? nullptr : mask.data();
  const std::size_t L = net.layers.size();
  std::vector<Matrix> ys(L);
  for (std::size_t l = 0; l < L; ++l) {
    const auto& layer = *net.layers[l];
    ys[l].resize(layer.units(), layer.return_sequences() ? T * B : B);
  }
  const Matrix w = random_matrix(ys.back().rows(), ys.back().cols(), rng);
  auto forward = [&] {
    for (std::size_t l = 0; l < L; ++l)
      net.layers[l]->forward(net.params.data(), l == 0 ? x : ys[l - 1], m, T, B, ys[l]);
    return weighted_sum({ys.back().data(), std::size_t(ys.back().size())},
                        {w.data(), std::size_t(w.size())});
  };

  forward();
  std::fill(net.grads.begin(), net.grads.end(), 0.0f);
  std::vector<Matrix> dxs(L);
  for (std::size_t l = L; l-- > 0;) {
    dxs[l].resize(net.layers[l]->input_dim(), T * B);
    net.layers[l]->backward(net.params.data(), net.grads.data(), l + 1 == L ? w : dxs[l + 1], dxs[l]);
  }

  std::vector<GradCheckTensor> tensors;
  for (const auto& t : net.layout.tensors())
    tensors.push_back({t.name, {net.params.data() + t.offset, t.size},
                       {net.grads.data() + t.offset, t.size}});
  tensors.push_back({"dx", {x.data(), std::size_t(x.size())}, {dxs[0].data(), std::size_t(dxs[0].size())}});
  return check_gradients(forward, tensors);
}

struct Case {
  Kind kind;
  bool return_sequences;
  MaskKind mask;
};

class RecurrentBackward : public ::testing::TestWithParam<Case> {};

TEST_P(RecurrentBackward, MatchesFiniteDifferences) {
  const Case c = GetParam();
  const int n = 3, u = 4, T = 5, B = batch_for(c.mask);
  Net net;
  net.add(make_layer(c.kind, n, u, c.return_sequences), "rnn");
  net.init(42, 0.3f);
  std::mt19937_64 rng(7);
  Matrix x = random_matrix(n, T * B, rng);
  const GradCheckResult res = check_stack(net, x, mask_for(c.mask), T, B, rng);
  std::printf("[gradcheck] %s %s %s: %s\n", kind_name(c.kind), c.return_sequences ? "seq" : "last",
              mask_name(c.mask), res.report().c_str());
  EXPECT_TRUE(res.ok) << res.report();
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (Kind k : kAllKinds)
    for (bool rs : {false, true})
      for (MaskKind m : {MaskKind::kNone, MaskKind::kMixed, MaskKind::kAllSteps})
        cases.push_back({k, rs, m});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Layers, RecurrentBackward, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(kind_name(info.param.kind)) +
                                  (info.param.return_sequences ? "Seq" : "Last") +
                                  mask_name(info.param.mask);
                         });

// Units 32 and input 17: the shapes of the real model, where the per-step products run the
// kernel's full register blocks (4u = 128 rows) and its remainders (17 inputs, 9 columns).
TEST(RecurrentBackward, MatchesFiniteDifferencesAtModelSizes) {
  for (Kind kind : kAllKinds) {
    const int n = 17, u = 32, T = 4, B = 9;
    Net net;
    net.add(make_layer(kind, n, u, false), "rnn");
    net.init(77, 0.1f);
    std::mt19937_64 rng(78);
    Matrix x = random_matrix(n, T * B, rng);
    auto mask = make_mask({"0111", "1110", "1111", "0011", "1111", "1111", "1011", "1111", "1111"});
    const GradCheckResult res = check_stack(net, x, mask, T, B, rng);
    std::printf("[gradcheck] %s n=17 u=32 masked: %s\n", kind_name(kind), res.report().c_str());
    EXPECT_TRUE(res.ok) << kind_name(kind) << ": " << res.report();
  }
}

// LSTM(return_sequences) -> GRU(return_sequences) -> SimpleRNN, end to end, masked.
TEST(RecurrentStackBackward, MatchesFiniteDifferences) {
  for (MaskKind mk : {MaskKind::kNone, MaskKind::kMixed}) {
    const int T = 5, B = batch_for(mk);
    Net net;
    net.add(std::make_unique<Lstm>(3, 4, true), "lstm");
    net.add(std::make_unique<Gru>(4, 5, true), "gru");
    net.add(std::make_unique<SimpleRnn>(5, 3, false), "simple_rnn");
    net.init(1234, 0.3f);
    std::mt19937_64 rng(99);
    Matrix x = random_matrix(3, T * B, rng);
    const GradCheckResult res = check_stack(net, x, mask_for(mk), T, B, rng);
    std::printf("[gradcheck] stack %s: %s\n", mask_name(mk), res.report().c_str());
    EXPECT_TRUE(res.ok) << mask_name(mk) << ": " << res.report();
  }
}

// backward adds into grads (+=), leaves params alone, and overwrites dx.
TEST(RecurrentBackward, AccumulatesGradientsAndKeepsParameters) {
  for (Kind kind : kAllKinds) {
    const int n = 3, u = 4, T = 5, B = 3;
    Net net;
    net.add(make_layer(kind, n, u, true), "rnn");
    net.init(5, 0.3f);
    const std::vector<float> params0 = net.params;
    std::mt19937_64 rng(3);
    const Matrix x = random_matrix(n, T * B, rng), dy = random_matrix(u, T * B, rng);
    Matrix y(u, T * B), dx1 = Matrix::Constant(n, T * B, 1e9f), dx2 = dx1;
    RecurrentLayer& layer = *net.layers[0];
    layer.forward(net.params.data(), x, nullptr, T, B, y);
    layer.backward(net.params.data(), net.grads.data(), dy, dx1);
    const std::vector<float> once = net.grads;
    layer.forward(net.params.data(), x, nullptr, T, B, y);
    layer.backward(net.params.data(), net.grads.data(), dy, dx2);
    for (std::size_t i = 0; i < once.size(); ++i)
      ASSERT_NEAR(net.grads[i], 2.0f * once[i], 1e-5f * (1.0f + std::abs(once[i])))
          << kind_name(kind) << " index " << i;
    EXPECT_EQ(net.params, params0) << kind_name(kind);
    EXPECT_EQ(dx1, dx2) << kind_name(kind);
    EXPECT_LT(dx1.cwiseAbs().maxCoeff(), 1e3f) << kind_name(kind);
    // backward consumes the cache: a second call without forward is an error.
    EXPECT_THROW(layer.backward(net.params.data(), net.grads.data(), dy, dx2), std::logic_error);
  }
}

}  // namespace
}  // namespace rnn_dist::model::testing
