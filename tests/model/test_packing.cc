// Packed batches (recurrent.h, PackedLayout; Model::forward packs unmasked batches): the packed
// computation must give the logits and every gradient of the plain T*B computation, in the
// caller's example order, for every layer type and stack, and for the batches that stress the
// packing (examples with no real token, full-length ones, ties, zeros inside a sequence, post
// padding, a batch of one).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "trainer/model/lstm.h"
#include "trainer/model/model.h"
#include "trainer/model/parameters.h"
#include "trainer/model/recurrent.h"
#include "trainer/model/spec.h"

namespace rnn_dist::model {
namespace {

constexpr int kNumWords = 30;

struct Batch {
  std::string name;
  int T = 0, B = 0;
  std::vector<std::int32_t> tokens;  // time-major
};

// Example b has lengths[b] ids in [1, kNumWords) at the end of the T steps (pre-padding) or at
// the start (post); with `holes`, about one id in five inside a sequence is 0.
Batch make_batch(std::string name, const std::vector<int>& lengths, int T, bool post, bool holes,
                 std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::int32_t> id(1, kNumWords - 1);
  Batch b{std::move(name), T, static_cast<int>(lengths.size()), {}};
  b.tokens.assign(std::size_t(T) * b.B, 0);
  for (int e = 0; e < b.B; ++e) {
    const int L = lengths[e];
    const int t0 = post ? 0 : T - L;
    for (int k = 0; k < L; ++k) {
      const bool hole = holes && k > 0 && rng() % 5 == 0;
      b.tokens[std::size_t(t0 + k) * b.B + e] = hole ? 0 : id(rng);
    }
  }
  return b;
}

std::vector<Batch> batches() {
  return {
      make_batch("pre_mixed", {7, 3, 0, 12, 3, 1, 12, 5}, 12, false, false, 1),
      make_batch("pre_with_zeros_inside", {9, 2, 11, 6, 11, 4}, 11, false, true, 2),
      make_batch("post", {7, 3, 0, 12, 5}, 12, true, false, 3),
      make_batch("all_empty", {0, 0, 0}, 5, false, false, 4),
      make_batch("all_full", {6, 6, 6, 6}, 6, false, false, 5),
      make_batch("one_example", {4}, 9, false, false, 6),
      make_batch("one_step", {1, 0, 1}, 1, false, false, 7),
      make_batch("long", {40, 3, 17, 0, 25, 40, 8, 31, 2, 19, 40, 11}, 40, false, true, 8),
  };
}

// The columns a packed batch computes: every example from its first non-zero token to the end,
// plus one shared column for the longest run of leading zeros.
std::int64_t expected_columns(const Batch& b) {
  std::int64_t sum = 0;
  int longest_prefix = 0;
  for (int e = 0; e < b.B; ++e) {
    int s = 0;
    while (s < b.T && b.tokens[std::size_t(s) * b.B + e] == 0) ++s;
    sum += b.T - s;
    longest_prefix = std::max(longest_prefix, s);
  }
  return sum + longest_prefix;
}

struct Result {
  std::vector<float> logits, grads;
  std::int64_t columns = 0;
};

Result run(Model& model, const Batch& b, bool pack) {
  model.set_packing(pack);
  model.zero_grads();
  Result r;
  r.logits.resize(std::size_t(b.B));
  model.forward(b.tokens, b.T, b.B, r.logits);
  r.columns = model.computed_columns();
  // A different dLoss/dlogit per example, so that a mix-up of the example order shows.
  std::vector<float> dlogits(std::size_t(b.B));
  for (int e = 0; e < b.B; ++e) dlogits[e] = 0.25f * float(e + 1) - 0.6f;
  model.backward(dlogits);
  r.grads.assign(model.grads().begin(), model.grads().end());
  return r;
}

// Max over entries of |a - b| / (1e-5 + 1e-4 |b|): <= 1 passes (float rounding of a different
// summation order), a real error is orders of magnitude larger.
double worst_ratio(const std::vector<float>& a, const std::vector<float>& b, std::size_t* at) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double r = std::abs(double(a[i]) - b[i]) / (1e-5 + 1e-4 * std::abs(double(b[i])));
    if (!(r <= worst)) worst = r, *at = i;  // NaN counts as the worst
  }
  return worst;
}

std::unique_ptr<Model> make_model(const std::string& layers, bool mask = false) {
  ModelSpec spec;
  spec.num_words = kNumWords;
  spec.embed_dim = 4;
  spec.layers = parse_layers(layers);
  spec.mask_padding = mask;
  auto model = std::make_unique<Model>(spec);
  model->init(11);
  // Larger weights than Keras's initialisers, so that every step matters to the output.
  for (float& p : model->params()) p *= 3.0f;
  return model;
}

class Packing : public ::testing::TestWithParam<std::string> {};

TEST_P(Packing, MatchesTheUnpackedBatchInLogitsAndEveryGradient) {
  auto packed = make_model(GetParam()), plain = make_model(GetParam());
  // One model of each kind runs all the batches in turn: buffers grown by one packing are reused
  // by the next.
  for (const Batch& b : batches()) {
    SCOPED_TRACE(b.name);
    const Result p = run(*packed, b, true), q = run(*plain, b, false);
    EXPECT_EQ(q.columns, std::int64_t(b.T) * b.B);
    EXPECT_EQ(p.columns, expected_columns(b));
    std::size_t at = 0;
    EXPECT_LE(worst_ratio(p.logits, q.logits, &at), 1.0)
        << "logit " << at << ": " << p.logits[at] << " vs " << q.logits[at];
    EXPECT_LE(worst_ratio(p.grads, q.grads, &at), 1.0)
        << "gradient " << at << ": " << p.grads[at] << " vs " << q.grads[at];
  }
}

INSTANTIATE_TEST_SUITE_P(Layers, Packing,
                         ::testing::Values("lstm:5", "simplernn:5", "gru:5",
                                           "gru:5:reset_after=false", "lstm:4,gru:3,simplernn:2",
                                           "simplernn:3,lstm:4"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           std::replace_if(
                               name.begin(), name.end(),
                               [](char c) { return c == ':' || c == ',' || c == '='; }, '_');
                           return name;
                         });

TEST(Packing, MatchesTheUnpackedBatchAtTheDefaultModelSize) {
  // The tutorial's shapes (Embedding(10000, 32) -> LSTM(32), batch 128, maxlen 500; the stack
  // adds a SimpleRNN(32) and a GRU(32) with return_sequences), where the layers' products take
  // their widest register blocks, with IMDB-like lengths (median 174, some longer than 500).
  std::mt19937_64 rng(12);
  std::lognormal_distribution<double> len(std::log(174.0), 0.755);
  std::vector<int> lengths(128);
  for (int& l : lengths) l = static_cast<int>(std::clamp(std::lround(len(rng)), 10L, 500L));
  for (const std::string layers :
       {"lstm:32", "simplernn:32,gru:32,lstm:32", "gru:32:reset_after=false"}) {
    SCOPED_TRACE(layers);
    ModelSpec spec;
    spec.layers = parse_layers(layers);  // num_words 10000, embed 32: the defaults
    Model packed(spec), plain(spec);
    packed.init(3);
    plain.init(3);
    Batch b = make_batch("imdb_like", lengths, 500, false, false, 13);
    for (auto& id : b.tokens) id = id == 0 ? 0 : 1 + (id * 331) % (spec.num_words - 1);
    const Result p = run(packed, b, true), q = run(plain, b, false);
    std::size_t at = 0;
    EXPECT_LE(worst_ratio(p.logits, q.logits, &at), 1.0)
        << "logit " << at << ": " << p.logits[at] << " vs " << q.logits[at];
    EXPECT_LE(worst_ratio(p.grads, q.grads, &at), 1.0)
        << "gradient " << at << ": " << p.grads[at] << " vs " << q.grads[at];
    EXPECT_LT(p.columns, q.columns / 2);
  }
}

TEST(Packing, SavesTheSharedPaddingWork) {
  auto model = make_model("lstm:5");
  const Batch b = make_batch("pre", {3, 10, 1, 2}, 10, false, false, 9);
  run(*model, b, true);
  // 3 + 10 + 1 + 2 real steps, and 9 steps of the shared column (the longest padding prefix).
  EXPECT_EQ(model->computed_columns(), 16 + 9);
}

TEST(Packing, IsNotUsedWithMasking) {
  // With mask_zero the padding steps carry the zero state: the layers take the mask on the full
  // layout.
  auto model = make_model("lstm:5", /*mask=*/true);
  const Batch b = make_batch("pre", {3, 10, 1, 2}, 10, false, false, 9);
  run(*model, b, true);
  EXPECT_EQ(model->computed_columns(), 40);
}

TEST(PackedLayout, FullLayoutIsTheTimeMajorBatch) {
  PackedLayout l;
  l.set_full(3, 4);
  EXPECT_TRUE(l.full());
  EXPECT_EQ(l.columns(), 12);
  EXPECT_EQ(l.state_columns(), 12);
  EXPECT_EQ(l.offset, (std::vector<Eigen::Index>{0, 4, 8, 12}));
  for (int t = 0; t < 3; ++t) EXPECT_EQ(l.state_offset(t), 4 * t);
}

TEST(PackedLayout, OffsetsAndStateBlocks) {
  PackedLayout l;
  const std::vector<int> widths{1, 1, 3, 4};
  l.set(4, 5, widths);
  EXPECT_FALSE(l.full());
  EXPECT_EQ(l.width, (std::vector<int>{1, 1, 3, 4, 5}));
  EXPECT_EQ(l.offset, (std::vector<Eigen::Index>{0, 1, 2, 5, 9}));
  // State block t holds width[t+1] columns: 1, 3, 4, then the B = 5 final outputs.
  EXPECT_EQ(l.state_offset(0), 0);
  EXPECT_EQ(l.state_offset(1), 1);
  EXPECT_EQ(l.state_offset(2), 4);
  EXPECT_EQ(l.state_offset(3), 8);
  EXPECT_EQ(l.state_columns(), 13);
}

TEST(PackedLayout, SharedPrefixAddsTheSharedColumnUntilEveryExampleStarted) {
  PackedLayout l;
  const std::vector<int> started{0, 1, 1, 3, 4};  // B = 4: all started from step 4
  l.set_shared_prefix(5, 4, started);
  EXPECT_EQ(l.width, (std::vector<int>{1, 2, 2, 4, 4, 4}));
  const std::vector<int> never{0, 0, 2};  // one example never starts: shared to the end
  l.set_shared_prefix(3, 3, never);
  EXPECT_EQ(l.width, (std::vector<int>{1, 1, 3, 3}));
  const std::vector<int> falling{2, 1};
  EXPECT_THROW(l.set_shared_prefix(2, 4, falling), std::invalid_argument);
}

TEST(Packing, ModelRefusesTokensThatDoNotMatchTheBatch) {
  auto model = make_model("lstm:5");
  std::vector<std::int32_t> tokens(11, 1);
  std::vector<float> logits(3);
  try {
    model->forward(tokens, 4, 3, logits);
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("11 tokens"), std::string::npos) << e.what();
  }
  tokens.resize(12);
  EXPECT_THROW(model->forward(tokens, 4, 3, std::span<float>(logits.data(), 2)),
               std::invalid_argument);
  model->forward(tokens, 4, 3, logits);  // the right sizes: fine
}

TEST(PackedLayout, RejectsBrokenInvariantsNamingTheStep) {
  PackedLayout l;
  auto message = [&](int T, int B, std::vector<int> w) -> std::string {
    try {
      l.set(T, B, w);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(message(3, 4, {0, 1, 2}).find("width 0 at step 0"), std::string::npos);
  EXPECT_NE(message(3, 4, {2, 1, 2}).find("width 1 at step 1"), std::string::npos);
  EXPECT_NE(message(3, 4, {1, 2, 5}).find("width 5 at step 2"), std::string::npos);
  EXPECT_NE(message(3, 4, {1, 2}).find("2 step widths"), std::string::npos);
  EXPECT_THROW(l.set_full(0, 4), std::invalid_argument);
}

TEST(PackedLayout, LayersRefuseAMaskWithAPackedLayout) {
  Lstm layer(4, 5, /*return_sequences=*/false);
  ParameterLayout params_layout;
  layer.declare(params_layout, "lstm");
  std::vector<float> params(params_layout.buffer_size(), 0.1f);
  PackedLayout l;
  const std::vector<int> widths{1, 2};
  l.set(2, 2, widths);  // 3 columns
  Matrix x = Matrix::Ones(4, 3), y(5, 2);
  const std::vector<std::uint8_t> mask(3, 1);
  try {
    layer.forward_packed(params.data(), x, l, mask.data(), y);
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("mask needs the full"), std::string::npos) << e.what();
  }
  layer.forward_packed(params.data(), x, l, nullptr, y);  // without the mask: fine
  EXPECT_TRUE(y.allFinite());
}

}  // namespace
}  // namespace rnn_dist::model
