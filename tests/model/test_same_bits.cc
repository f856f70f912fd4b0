// The same inputs give the same bits wherever the buffers sit in memory. Training's
// reproducibility across ranks and threads rests on this (train/gradient_step.h: a micro-batch's
// gradient must be the same bits on any rank or thread, whose buffers are elsewhere). Eigen's
// reductions can peel a few elements to reach alignment, which changes their order: GRU's and
// SimpleRNN's bias gradients and Dense once used them and differed by an ulp between processes.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "layer_fixture.h"
#include "trainer/model/model.h"

namespace rnn_dist::model {
namespace {

using testing::Kind;

bool same_bits(const float* a, const float* b, std::size_t n) {
  return std::memcmp(a, b, n * sizeof(float)) == 0;
}

struct LayerRun {
  std::vector<float> y, dx, grads;
};

// Forward and backward of one packed batch with every buffer (parameters, gradients, input,
// output, their gradients, and the layer's own caches) at `shift` floats from where it would be.
LayerRun run_layer(Kind kind, bool return_sequences, int shift) {
  const int n = 7, u = 21, T = 12, B = 9;  // gate rows 21-84: longer than an AVX-512 packet
  std::vector<char> heap_shift(static_cast<std::size_t>(1 + 4 * shift));  // moves later allocations
  testing::Net net;
  net.add(testing::make_layer(kind, n, u, return_sequences), "rnn");
  net.init(3, 0.2f);
  PackedLayout packed;
  std::vector<int> widths(T);
  for (int t = 0; t < T; ++t) widths[static_cast<std::size_t>(t)] = std::min(B, 1 + t);
  packed.set(T, B, widths);
  const Eigen::Index P = packed.columns(), ycols = return_sequences ? P : B;
  std::mt19937_64 rng(5);
  const Matrix x0 = testing::random_matrix(n, P, rng), dy0 = testing::random_matrix(u, ycols, rng);
  const auto s = static_cast<std::size_t>(shift);
  auto placed = [&](std::size_t size) { return std::vector<float>(size + 16, 0.0f); };
  auto params = placed(net.params.size()), grads = placed(net.params.size());
  std::copy(net.params.begin(), net.params.end(), params.begin() + static_cast<std::ptrdiff_t>(s));
  auto xb = placed(static_cast<std::size_t>(x0.size())), dyb = placed(static_cast<std::size_t>(dy0.size()));
  std::copy_n(x0.data(), x0.size(), xb.begin() + static_cast<std::ptrdiff_t>(s));
  std::copy_n(dy0.data(), dy0.size(), dyb.begin() + static_cast<std::ptrdiff_t>(s));
  auto yb = placed(static_cast<std::size_t>(u * ycols)), dxb = placed(static_cast<std::size_t>(n * P));
  MatrixMap x(xb.data() + s, n, P), dy(dyb.data() + s, u, ycols), y(yb.data() + s, u, ycols),
      dx(dxb.data() + s, n, P);
  auto& layer = *net.layers[0];
  layer.forward_packed(params.data() + s, x, packed, nullptr, y);
  layer.backward(params.data() + s, grads.data() + s, dy, dx);
  LayerRun r;
  r.y.assign(y.data(), y.data() + y.size());
  r.dx.assign(dx.data(), dx.data() + dx.size());
  r.grads.assign(grads.begin() + static_cast<std::ptrdiff_t>(s),
                 grads.begin() + static_cast<std::ptrdiff_t>(s + net.params.size()));
  return r;
}

class SameBits : public ::testing::TestWithParam<Kind> {};

TEST_P(SameBits, ALayerGivesTheSameBitsWhereverItsBuffersAre) {
  for (bool rs : {false, true}) {
    const LayerRun ref = run_layer(GetParam(), rs, 0);
    for (int shift = 1; shift < 16; ++shift) {  // every phase of a 64-byte line
      const LayerRun r = run_layer(GetParam(), rs, shift);
      EXPECT_TRUE(same_bits(ref.y.data(), r.y.data(), ref.y.size())) << "y, shift " << shift << ", rs " << rs;
      EXPECT_TRUE(same_bits(ref.dx.data(), r.dx.data(), ref.dx.size())) << "dx, shift " << shift << ", rs " << rs;
      EXPECT_TRUE(same_bits(ref.grads.data(), r.grads.data(), ref.grads.size()))
          << "parameter gradients, shift " << shift << ", rs " << rs;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Layers, SameBits,
                         ::testing::ValuesIn(testing::kAllKinds),
                         [](const auto& info) { return std::string(testing::kind_name(info.param)); });

// A whole Model (embedding, a stack, the Dense head, packing) built after allocations of
// different sizes, so that every internal buffer lands elsewhere.
TEST(SameBitsModel, AModelGivesTheSameGradientWhereverItsBuffersAre) {
  for (bool masked : {false, true}) {
    ModelSpec spec;
    spec.num_words = 50;
    spec.embed_dim = 6;
    spec.layers = parse_layers("gru:20,simplernn:17,lstm:18");
    spec.mask_padding = masked;
    const int T = 15, B = 11;
    std::vector<std::int32_t> tokens(static_cast<std::size_t>(T) * B, 0);
    std::mt19937 rng(9);
    for (int b = 0; b < B; ++b) {
      const int start = static_cast<int>(rng() % T);
      for (int t = start; t < T; ++t) tokens[static_cast<std::size_t>(t) * B + b] = 1 + static_cast<int>(rng() % 49);
    }
    std::vector<float> dlogits(B);
    for (auto& d : dlogits) d = static_cast<float>(rng() % 1000) / 1000.0f - 0.5f;
    std::vector<float> ref_grads, ref_logits;
    for (int shift = 0; shift < 16; ++shift) {
      std::vector<char> heap_shift(static_cast<std::size_t>(1 + 4 * shift));
      Model model(spec);
      model.init(4);
      std::vector<float> logits(B);
      model.forward(tokens, T, B, logits);
      model.backward(dlogits);
      if (shift == 0) {
        ref_grads.assign(model.grads().begin(), model.grads().end());
        ref_logits = logits;
        continue;
      }
      EXPECT_TRUE(same_bits(ref_logits.data(), logits.data(), logits.size())) << "logits, shift " << shift;
      EXPECT_TRUE(same_bits(ref_grads.data(), model.grads().data(), ref_grads.size()))
          << "gradients, shift " << shift << ", masked " << masked;
    }
  }
}

}  // namespace
}  // namespace rnn_dist::model
