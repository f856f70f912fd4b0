// Shapes, parameter counts, initialisers and masking semantics of SimpleRnn, Lstm and Gru.
#include <gtest/gtest.h>

#include <cmath>

#include "layer_fixture.h"

namespace rnn_dist::model::testing {
namespace {

std::size_t count(RecurrentLayer&& layer) {
  ParameterLayout layout;
  layer.declare(layout, "l");
  return layout.parameter_count();
}

TEST(RecurrentLayers, ParameterCountsMatchKeras) {
  EXPECT_EQ(count(SimpleRnn(32, 32, false)), 2080u);
  EXPECT_EQ(count(Lstm(32, 32, false)), 8320u);
  EXPECT_EQ(count(SimpleRnn(32, 64, false)), 6208u);
  // The quiz model: SimpleRNN(64) on 1 -> SimpleRNN(3) -> SimpleRNN(2).
  EXPECT_EQ(count(SimpleRnn(1, 64, true)), 4224u);
  EXPECT_EQ(count(SimpleRnn(64, 3, true)), 204u);
  EXPECT_EQ(count(SimpleRnn(3, 2, false)), 12u);
  EXPECT_EQ(count(Gru(32, 32, false)), 3u * (32 * 32 + 32 * 32 + 2 * 32));  // 6336
  EXPECT_EQ(count(Gru(7, 5, false)), std::size_t(Gru::parameter_count(7, 5)));
  // Keras GRU(32, reset_after=False) on 32 inputs: one bias row.
  EXPECT_EQ(count(GruResetBefore(32, 32, false)), 3u * (32 * 32 + 32 * 32 + 32));  // 6240
  EXPECT_EQ(count(GruResetBefore(7, 5, false)),
            std::size_t(GruResetBefore::parameter_count(7, 5)));
  EXPECT_EQ(count(Lstm(7, 5, false)), std::size_t(Lstm::parameter_count(7, 5)));
  EXPECT_EQ(count(SimpleRnn(7, 5, false)), std::size_t(SimpleRnn::parameter_count(7, 5)));
}

TEST(RecurrentLayers, DeclaresKerasShapes) {
  ParameterLayout layout;
  Gru(7, 5, false).declare(layout, "gru");
  Lstm(7, 5, false).declare(layout, "lstm");
  EXPECT_EQ(layout.find("gru/kernel").shape, (std::vector<std::int64_t>{7, 15}));
  EXPECT_EQ(layout.find("gru/recurrent_kernel").shape, (std::vector<std::int64_t>{5, 15}));
  EXPECT_EQ(layout.find("gru/bias").shape, (std::vector<std::int64_t>{2, 15}));
  GruResetBefore(7, 5, false).declare(layout, "gru_1");
  EXPECT_EQ(layout.find("gru_1/kernel").shape, (std::vector<std::int64_t>{7, 15}));
  EXPECT_EQ(layout.find("gru_1/recurrent_kernel").shape, (std::vector<std::int64_t>{5, 15}));
  EXPECT_EQ(layout.find("gru_1/bias").shape, (std::vector<std::int64_t>{15}));
  EXPECT_EQ(layout.find("lstm/kernel").shape, (std::vector<std::int64_t>{7, 20}));
  EXPECT_EQ(layout.find("lstm/recurrent_kernel").shape, (std::vector<std::int64_t>{5, 20}));
  EXPECT_EQ(layout.find("lstm/bias").shape, (std::vector<std::int64_t>{20}));
}

TEST(Init, OrthogonalIsOrthogonal) {
  std::mt19937_64 rng(1);
  for (auto [rows, cols] : {std::pair{32, 32}, {32, 128}, {5, 15}, {20, 6}}) {
    std::vector<float> k(rows * cols);
    orthogonal(k, rows, cols, rng);
    // Row-major (rows, cols) K is the column-major (cols, rows) matrix K^T.
    const Eigen::MatrixXd kt = Eigen::Map<const Matrix>(k.data(), cols, rows).cast<double>();
    const Eigen::MatrixXd gram = rows <= cols ? Eigen::MatrixXd(kt.transpose() * kt)   // K K^T
                                              : Eigen::MatrixXd(kt * kt.transpose());  // K^T K
    const auto m = std::min(rows, cols);
    EXPECT_LT((gram - Eigen::MatrixXd::Identity(m, m)).cwiseAbs().maxCoeff(), 1e-5)
        << rows << "x" << cols;
  }
}

TEST(Init, KerasInitialisersAndSeedDeterminism) {
  const int n = 32, u = 32;
  Net a;
  a.add(std::make_unique<Lstm>(n, u, false), "lstm");
  a.init(2024, 0.0f);
  const auto& kernel = a.layout.find("lstm/kernel");
  const float limit = std::sqrt(6.0f / float(n + 4 * u));
  float max_abs = 0;
  double mean = 0;
  for (std::size_t i = 0; i < kernel.size; ++i) {
    const float v = a.params[kernel.offset + i];
    ASSERT_LE(std::abs(v), limit);
    max_abs = std::max(max_abs, std::abs(v));
    mean += v;
  }
  EXPECT_GT(max_abs, 0.98f * limit);
  EXPECT_LT(std::abs(mean / kernel.size), 0.02 * limit);
  const auto& bias = a.layout.find("lstm/bias");
  for (int i = 0; i < 4 * u; ++i)
    EXPECT_EQ(a.params[bias.offset + i], (i >= u && i < 2 * u) ? 1.0f : 0.0f) << i;

  Net b;
  b.add(std::make_unique<Lstm>(n, u, false), "lstm");
  b.init(2024, 0.0f);
  EXPECT_EQ(a.params, b.params);
  Net c;
  c.add(std::make_unique<Lstm>(n, u, false), "lstm");
  c.init(2025, 0.0f);
  EXPECT_NE(a.params, c.params);

  for (Kind kind : {Kind::kSimpleRnn, Kind::kGru, Kind::kGruResetBefore}) {
    Net g;
    g.add(make_layer(kind, n, u, false), "l");
    g.init(1, 0.0f);
    const auto& gb = g.layout.find("l/bias");
    for (std::size_t i = 0; i < gb.size; ++i) EXPECT_EQ(g.params[gb.offset + i], 0.0f);
  }
}

TEST(Init, UniformDrawsAreFixedAcrossPlatforms) {
  // uniform01 is (rng() >> 40) * 2^-24 by definition: check against the raw generator.
  std::mt19937_64 a(5), b(5);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(uniform01(a), float(b() >> 40) / 16777216.0f);
  std::mt19937_64 rng(6);
  double s = 0, s2 = 0;
  for (int i = 0; i < 20000; ++i) {
    const double v = standard_normal(rng);
    s += v;
    s2 += v * v;
  }
  EXPECT_NEAR(s / 20000, 0.0, 0.03);
  EXPECT_NEAR(s2 / 20000, 1.0, 0.05);
}

class MaskSemantics : public ::testing::TestWithParam<Kind> {};

TEST_P(MaskSemantics, MaskedStepRepeatsPreviousOutput) {
  const int n = 3, u = 4, T = 6, B = 4;
  Net net;
  net.add(make_layer(GetParam(), n, u, true), "rnn");
  net.init(8, 0.3f);
  std::mt19937_64 rng(9);
  const Matrix x = random_matrix(n, T * B, rng);
  const auto mask = make_mask({"001111", "111100", "000000", "101101"});
  Matrix y(u, T * B);
  net.layers[0]->forward(net.params.data(), x, mask.data(), T, B, y);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      if (mask[t * B + b]) {
        EXPECT_GT(y.col(t * B + b).norm(), 0.0f) << "b " << b << " t " << t;
        continue;
      }
      const Vector prev = t == 0 ? Vector::Zero(u) : Vector(y.col((t - 1) * B + b));
      EXPECT_EQ(y.col(t * B + b), prev) << "b " << b << " t " << t;
    }
}

TEST_P(MaskSemantics, LeadingPaddingEqualsShorterSequence) {
  const int n = 3, u = 4, T = 7, pad = 3, B = 2;
  Net net;
  net.add(make_layer(GetParam(), n, u, false), "rnn");
  net.init(10, 0.3f);
  std::mt19937_64 rng(11);
  const Matrix x = random_matrix(n, T * B, rng);  // example 0 pre-padded by `pad` steps
  const auto mask = make_mask({"0001111", "1111111"});
  Matrix y(u, B);
  net.layers[0]->forward(net.params.data(), x, mask.data(), T, B, y);
  // Example 0 alone, without its padding steps.
  Matrix x0(n, T - pad);
  for (int t = pad; t < T; ++t) x0.col(t - pad) = x.col(t * B + 0);
  Matrix y0(u, 1);
  auto single = make_layer(GetParam(), n, u, false);
  ParameterLayout layout;
  single->declare(layout, "rnn");
  single->forward(net.params.data(), x0, nullptr, T - pad, 1, y0);
  EXPECT_LT((y.col(0) - y0.col(0)).cwiseAbs().maxCoeff(), 1e-6f) << y.col(0).transpose() << "\n"
                                                                  << y0.col(0).transpose();
}

TEST_P(MaskSemantics, AllOnesMaskEqualsNoMask) {
  const int n = 3, u = 4, T = 5, B = 3;
  Net net;
  net.add(make_layer(GetParam(), n, u, true), "rnn");
  net.init(12, 0.3f);
  std::mt19937_64 rng(13);
  const Matrix x = random_matrix(n, T * B, rng);
  const std::vector<std::uint8_t> ones(T * B, 1);
  Matrix y1(u, T * B), y2(u, T * B);
  net.layers[0]->forward(net.params.data(), x, nullptr, T, B, y1);
  net.layers[0]->forward(net.params.data(), x, ones.data(), T, B, y2);
  EXPECT_EQ(y1, y2);
}

INSTANTIATE_TEST_SUITE_P(Layers, MaskSemantics,
                         ::testing::ValuesIn(kAllKinds),
                         [](const ::testing::TestParamInfo<Kind>& info) {
                           return std::string(kind_name(info.param));
                         });

TEST(RecurrentLayers, RejectsWrongShapes) {
  Net net;
  net.add(std::make_unique<Lstm>(3, 4, false), "lstm");
  net.init(1, 0.0f);
  Matrix x(3, 10), y(4, 5), bad_y(4, 10);
  EXPECT_THROW(net.layers[0]->forward(net.params.data(), x, nullptr, 2, 5, bad_y),
               std::invalid_argument);
  EXPECT_THROW(net.layers[0]->forward(net.params.data(), x, nullptr, 3, 5, y),
               std::invalid_argument);
}

}  // namespace
}  // namespace rnn_dist::model::testing
