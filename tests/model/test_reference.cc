// Cross-check of Model against PyTorch: tests/model/reference/*.txt hold, for small fixed models,
// parameters (Keras layout), tokens, labels and the float64 PyTorch answers (logits, mean BCE loss,
// dloss/dlogits and dloss/d(every parameter)); see tests/model/reference/README.md and
// make_reference.py. Each test loads one fixture into a Model, runs forward, the training loss
// (train::binary_cross_entropy) and backward in float32, and compares every tensor within
// |actual - expected| <= kAtol + kRtol * |expected|, printing the worst differences of every
// tensor whether or not it passes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "trainer/model/denormals.h"
#include "trainer/model/model.h"
#include "trainer/model/spec.h"
#include "trainer/train/loss.h"

namespace rnn_dist::model {
namespace {

// float32 against float64 on these sizes differs by <= 1e-7 absolute (the logs show ~1e-8 for
// gradients, whose magnitudes are 1e-4..1e-1). kAtol = 1e-6 keeps a 10x margin over that while a
// gradient off by 0.1% still fails (ComparisonDetectsAGradientOffByOnePartInAThousand); 1e-5
// would let such an error through on every gradient entry below ~1e-2.
constexpr double kAtol = 1e-6;
constexpr double kRtol = 1e-4;

struct RefTensor {
  std::vector<std::int64_t> shape;
  std::vector<double> values;  // row-major
};

struct Fixture {
  std::string path;
  ModelSpec spec;
  int T = 0, B = 0;
  std::map<std::string, RefTensor> tensors;

  const RefTensor& at(const std::string& name) const {
    const auto it = tensors.find(name);
    if (it == tensors.end()) throw std::runtime_error(path + ": no tensor '" + name + "'");
    return it->second;
  }
};

// Parses the format written by make_reference.py ('meta <key> <value>' and
// 'tensor <name> <rank> <dims...> <values...>' lines, '#' comments).
Fixture load_fixture(const std::string& case_name) {
  Fixture f;
  f.path = std::string(RNN_DIST_SOURCE_DIR) + "/tests/model/reference/" + case_name + ".txt";
  std::ifstream in(f.path);
  if (!in) throw std::runtime_error("cannot open " + f.path);
  std::map<std::string, std::string> meta;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    std::string kind, name;
    s >> kind >> name;
    if (kind == "meta") {
      s >> meta[name];
    } else if (kind == "tensor") {
      RefTensor t;
      int rank = 0;
      s >> rank;
      std::int64_t count = 1;
      for (int i = 0; i < rank; ++i) {
        std::int64_t d = 0;
        s >> d;
        t.shape.push_back(d);
        count *= d;
      }
      t.values.resize(static_cast<std::size_t>(count));
      for (auto& v : t.values) s >> v;
      if (!s) throw std::runtime_error(f.path + ": malformed tensor '" + name + "'");
      f.tensors[name] = std::move(t);
    } else {
      throw std::runtime_error(f.path + ": unexpected line '" + line.substr(0, 40) + "'");
    }
  }
  for (const char* key : {"num_words", "embed_dim", "layers", "mask_padding", "T", "B"})
    if (!meta.count(key)) throw std::runtime_error(f.path + ": missing meta " + key);
  f.spec.num_words = std::stoi(meta["num_words"]);
  f.spec.embed_dim = std::stoi(meta["embed_dim"]);
  f.spec.layers = parse_layers(meta["layers"]);
  f.spec.mask_padding = meta["mask_padding"] == "1";
  f.T = std::stoi(meta["T"]);
  f.B = std::stoi(meta["B"]);
  return f;
}

// The comparison of one tensor: the worst entries by absolute difference, by relative difference
// (over entries with |expected| > 1e-6) and by the ratio to the tolerance, which decides.
struct Comparison {
  std::string name;
  std::vector<std::int64_t> shape;
  std::size_t count = 0;
  std::size_t failures = 0;
  double max_abs = 0, max_rel = 0, worst_ratio = 0;
  std::size_t abs_index = 0, rel_index = 0, ratio_index = 0;
  double worst_actual = 0, worst_expected = 0;  // at ratio_index
  bool ok() const { return failures == 0; }

  std::string where(std::size_t flat) const {  // "[i,j]" of a row-major flat index
    std::vector<std::int64_t> idx(shape.size());
    auto rest = static_cast<std::int64_t>(flat);
    for (std::size_t k = shape.size(); k-- > 0;) {
      idx[k] = rest % shape[k];
      rest /= shape[k];
    }
    std::string s = "[";
    for (std::size_t k = 0; k < idx.size(); ++k) {
      if (k > 0) s += ',';
      s += std::to_string(idx[k]);
    }
    s += ']';
    return s;
  }
  std::string report() const {
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "%-4s %-32s n=%-4zu max|d|=%.2e at %-8s max rel=%.2e at %-8s "
                  "worst/tol=%.3f at %s (%.9g vs %.9g)",
                  ok() ? "ok" : "FAIL", name.c_str(), count, max_abs, where(abs_index).c_str(),
                  max_rel, where(rel_index).c_str(), worst_ratio, where(ratio_index).c_str(),
                  worst_actual, worst_expected);
    std::string out = buf;
    if (!ok()) out += ", " + std::to_string(failures) + " entries out of tolerance";
    return out;
  }
};

Comparison compare(const std::string& name, const std::vector<std::int64_t>& shape,
                   const std::vector<double>& actual, const std::vector<double>& expected) {
  Comparison c;
  c.name = name;
  c.shape = shape;
  c.count = expected.size();
  if (actual.size() != expected.size()) {
    c.failures = std::max<std::size_t>(1, expected.size());
    c.worst_ratio = INFINITY;
    return c;
  }
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const double a = actual[i], b = expected[i];
    const double d = std::abs(a - b);
    // A NaN or infinite difference counts as infinitely far off.
    const double ratio = std::isfinite(d) ? d / (kAtol + kRtol * std::abs(b)) : INFINITY;
    if (ratio > 1.0) ++c.failures;
    if (ratio > c.worst_ratio) {
      c.worst_ratio = ratio, c.ratio_index = i, c.worst_actual = a, c.worst_expected = b;
    }
    if (!std::isfinite(d)) continue;
    if (d > c.max_abs) c.max_abs = d, c.abs_index = i;
    if (std::abs(b) > 1e-6 && d / std::abs(b) > c.max_rel) {
      c.max_rel = d / std::abs(b), c.rel_index = i;
    }
  }
  return c;
}

std::vector<double> to_double(std::span<const float> v) { return {v.begin(), v.end()}; }

struct RunOptions {
  // Change the parameters after loading, or the gradients after backward, so that tests can show
  // the comparison catching a wrong value.
  std::function<void(Model&)> perturb_params{};
  std::function<void(Model&)> perturb_grads{};
  // (T, B) of batches to run forward + backward on first (tokens with padding), so that the
  // fixture's batch reuses buffers that a larger or smaller batch left behind.
  std::vector<std::pair<int, int>> warm_up{};
};

// Loads the fixture's parameters into a fresh Model, runs forward, loss and backward, and
// compares everything with the reference.
std::vector<Comparison> run_and_compare(const Fixture& f, const RunOptions& options = {}) {
  Model model(f.spec);
  const auto params = model.params();
  for (const auto& info : model.layout().tensors()) {
    const RefTensor& ref = f.at(info.name);
    if (ref.shape != info.shape) throw std::runtime_error(info.name + ": fixture shape differs");
    // Both sides are row-major in the Keras shape; the fixture's values are float32-exact.
    for (std::size_t i = 0; i < info.size; ++i)
      params[info.offset + i] = static_cast<float>(ref.values[i]);
  }
  if (options.perturb_params) options.perturb_params(model);
  for (const auto& [T, B] : options.warm_up) {
    std::vector<std::int32_t> tokens(static_cast<std::size_t>(T) * B);
    for (std::size_t j = 0; j < tokens.size(); ++j)  // about a third zeros, the rest varied ids
      tokens[j] = (j % 3 == 1) ? 0 : static_cast<std::int32_t>((7 * j + 3) % f.spec.num_words);
    std::vector<float> logits(B), dlogits(B, 0.25f);
    model.forward(tokens, T, B, logits);
    model.backward(dlogits);
  }

  const RefTensor& tok = f.at("tokens");  // (T, B), time-major as Model::forward takes it
  std::vector<std::int32_t> tokens(tok.values.begin(), tok.values.end());
  const RefTensor& lab = f.at("labels");
  std::vector<float> labels(lab.values.begin(), lab.values.end());
  std::vector<float> logits(f.B), dlogits(f.B);

  model.forward(tokens, f.T, f.B, logits);
  train::MetricSums sums;
  train::binary_cross_entropy(logits, labels, 1.0f / static_cast<float>(f.B), dlogits, sums);
  model.zero_grads();
  model.backward(dlogits);
  if (options.perturb_grads) options.perturb_grads(model);

  std::vector<Comparison> out;
  auto add = [&](const std::string& name, const std::vector<double>& actual) {
    const RefTensor& ref = f.at(name);
    out.push_back(compare(name, ref.shape, actual, ref.values));
  };
  add("logits", to_double(logits));
  add("loss", {sums.loss()});
  add("dlogits", to_double(dlogits));
  const auto grads = model.grads();
  for (const auto& info : model.layout().tensors())
    add("grad/" + info.name, to_double(grads.subspan(info.offset, info.size)));
  return out;
}

// Prints every comparison (so the log shows how close each tensor is) and fails on any mismatch.
void expect_matches(const std::string& case_name, const RunOptions& options = {}) {
  const Fixture f = load_fixture(case_name);
  std::printf("PyTorch reference '%s': layers %s, mask_padding %d, T=%d B=%d\n", case_name.c_str(),
              format_layers(f.spec.layers).c_str(), int(f.spec.mask_padding), f.T, f.B);
  for (const auto& c : run_and_compare(f, options)) {
    std::printf("  %s\n", c.report().c_str());
    EXPECT_TRUE(c.ok()) << case_name << ": " << c.report();
  }
}

TEST(PytorchReference, LstmModelMatchesForwardAndGradients) { expect_matches("lstm"); }
TEST(PytorchReference, SimpleRnnModelMatchesForwardAndGradients) { expect_matches("simple_rnn"); }
TEST(PytorchReference, GruModelMatchesForwardAndGradients) { expect_matches("gru"); }
TEST(PytorchReference, StackedLstmGruModelMatchesForwardAndGradients) { expect_matches("stacked"); }
TEST(PytorchReference, MaskedLstmModelMatchesForwardAndGradients) { expect_matches("lstm_masked"); }
TEST(PytorchReference, MaskedSimpleRnnModelMatchesForwardAndGradients) {
  expect_matches("simple_rnn_masked");
}
TEST(PytorchReference, MaskedGruModelMatchesForwardAndGradients) { expect_matches("gru_masked"); }
// An all-padding example, a zero mid-sequence, and masks through three stacked layer types.
TEST(PytorchReference, MaskedStackEdgeCasesMatchForwardAndGradients) {
  expect_matches("stacked_masked_edge");
}
// rnn_dist computes with subnormals flushed to zero by default (--denormals flush, as
// TensorFlow on CPU; model/denormals.h): every fixture still matches within the same tolerance.
// (The other tests here run with IEEE subnormals, --denormals keep.)
TEST(PytorchReference, EveryCaseMatchesWithDenormalsFlushedToZero) {
  set_flush_denormals(true);
  ASSERT_TRUE(flush_denormals());
  for (const char* name : {"lstm", "simple_rnn", "gru", "stacked", "lstm_masked",
                           "simple_rnn_masked", "gru_masked", "stacked_masked_edge"})
    expect_matches(name);
  set_flush_denormals(false);
  EXPECT_FALSE(flush_denormals());
}

// Buffers grown by a larger batch (and shrunk views after a smaller one) must not leak stale
// activations, masks or gradients into the next batch.
TEST(PytorchReference, MatchesAfterBatchesOfOtherSizes) {
  RunOptions options;
  options.warm_up = {{11, 6}, {2, 1}, {9, 5}};
  expect_matches("stacked_masked_edge", options);
  expect_matches("stacked", options);
  expect_matches("gru", options);
}

// The comparison must be able to fail.
TEST(PytorchReference, ComparisonFlagsEntriesOutsideTheTolerance) {
  const std::vector<double> expected{1.0, -2.0, 0.5};
  EXPECT_TRUE(compare("same", {3}, expected, expected).ok());
  const double just_outside = (1.0 + 1e-9) * (kAtol + kRtol * 2.0);
  const Comparison off = compare("off", {3}, {1.0, -2.0 + just_outside, 0.5}, expected);
  EXPECT_FALSE(off.ok());
  EXPECT_EQ(off.failures, 1u);
  EXPECT_EQ(off.ratio_index, 1u);
  EXPECT_EQ(off.where(off.ratio_index), "[1]");
  EXPECT_FALSE(compare("nan", {3}, {1.0, NAN, 0.5}, expected).ok());
  EXPECT_FALSE(compare("short", {3}, {1.0, -2.0}, expected).ok());
}

// Names of the failing comparisons, printed.
std::vector<std::string> failing(const std::vector<Comparison>& comparisons) {
  std::vector<std::string> names;
  for (const auto& c : comparisons) {
    if (c.ok()) continue;
    names.push_back(c.name);
    std::printf("  (expected to fail) %s\n", c.report().c_str());
  }
  return names;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(PytorchReference, ComparisonDetectsAPerturbedParameter) {
  const Fixture f = load_fixture("lstm");
  // One recurrent weight off by 1e-2.
  RunOptions options;
  options.perturb_params = [](Model& m) {
    m.params()[m.layout().find("lstm/recurrent_kernel").offset + 5] += 1e-2f;
  };
  const auto bad = failing(run_and_compare(f, options));
  EXPECT_TRUE(contains(bad, "logits"));
}

TEST(PytorchReference, ComparisonDetectsSwappedGates) {
  // The bug class the fixture is meant for: a layout that reads gate i's bias as gate f's.
  const Fixture f = load_fixture("lstm");
  RunOptions options;
  options.perturb_params = [](Model& m) {
    const auto& info = m.layout().find("lstm/bias");
    const std::size_t u = info.size / 4;
    float* b = m.params().data() + info.offset;
    std::swap_ranges(b, b + u, b + u);
  };
  const auto bad = failing(run_and_compare(f, options));
  EXPECT_TRUE(contains(bad, "logits"));
  EXPECT_TRUE(contains(bad, "grad/lstm/kernel"));
}

TEST(PytorchReference, ComparisonDetectsAGradientOffByOnePartInAThousand) {
  const Fixture f = load_fixture("gru");
  RunOptions options;
  options.perturb_grads = [](Model& m) {
    const auto& info = m.layout().find("gru/recurrent_kernel");
    const auto g = m.grads().subspan(info.offset, info.size);
    *std::max_element(g.begin(), g.end(),
                      [](float a, float b) { return std::abs(a) < std::abs(b); }) *= 1.001f;
  };
  const auto bad = failing(run_and_compare(f, options));
  EXPECT_EQ(bad, std::vector<std::string>{"grad/gru/recurrent_kernel"});
}

}  // namespace
}  // namespace rnn_dist::model
