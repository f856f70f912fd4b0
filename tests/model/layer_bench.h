// What the recurrent-layer benchmarks share (tests/model/bench_layers.cc and
// tests/bench/bench_onednn.cc): IMDB-like example lengths, the packed layout Model gives them, and
// a layer with its own parameters and buffers whose forward and backward can be timed.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "trainer/model/init.h"
#include "trainer/model/recurrent.h"

namespace rnn_dist::model::bench {

// Lengths of B IMDB-like examples: the training split's (log-normal, median 174, sigma 0.755, so
// about 8% longer than 500 tokens, as tests/bench/bench_train.cc draws them), clipped to [10, T].
inline std::vector<int> imdb_lengths(int B, int T, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> len(std::log(174.0), 0.755);
  std::vector<int> lengths(static_cast<std::size_t>(B));
  for (int& l : lengths) l = int(std::clamp(std::lround(len(rng)), 10L, long(T)));
  return lengths;
}

// The layout Model::pack makes for examples of these lengths, pre-padded to T and unmasked.
inline PackedLayout packed_layout(std::span<const int> lengths, int T) {
  std::vector<int> started(static_cast<std::size_t>(T), 0);  // started[t]: examples begun by t
  for (int len : lengths)
    if (len > 0) ++started[std::size_t(T - len)];
  for (int t = 1; t < T; ++t) started[std::size_t(t)] += started[std::size_t(t - 1)];
  PackedLayout l;
  l.set_shared_prefix(T, int(lengths.size()), started);
  return l;
}

// A recurrent layer with its own flat parameter and gradient buffers (one layer named "l", Keras
// init), an input x in U(-0.05, 0.05) and an output gradient dy of 0.01 everywhere, on the full
// layout (T*B columns, optionally masked) or on a packed one. dy has the shape of the layer's
// output: (u, B) unless return_sequences, i.e. the loss sees the last step only.
// Callers may overwrite params(), x() and dy() (the shapes stay) before forward().
class LayerRun {
 public:
  // mask: nullptr or T*B bytes (full layout only), kept by pointer. packed: nullptr for the full
  // layout, else copied.
  LayerRun(std::unique_ptr<RecurrentLayer> layer, int T, int B, const std::uint8_t* mask,
           const PackedLayout* packed, std::uint64_t seed = 1)
      : layer_(std::move(layer)), T_(T), B_(B), mask_(mask) {
    if (packed != nullptr)
      layout_ = *packed;
    else
      layout_.set_full(T, B);
    layer_->declare(params_layout_, "l");
    params_.assign(params_layout_.buffer_size(), 0.0f);
    grads_.assign(params_layout_.buffer_size(), 0.0f);
    std::mt19937_64 rng(seed);
    layer_->init(params_, rng);
    const Eigen::Index P = layout_.columns();
    x_.resize(layer_->input_dim(), P);
    uniform({x_.data(), std::size_t(x_.size())}, -0.05f, 0.05f, rng);
    y_.resize(layer_->units(), layer_->return_sequences() ? P : B);
    dy_ = Matrix::Constant(y_.rows(), y_.cols(), 0.01f);
    dx_.resize(layer_->input_dim(), P);
  }

  void forward() {
    if (layout_.full())
      layer_->forward(params_.data(), x_, mask_, T_, B_, y_);
    else
      layer_->forward_packed(params_.data(), x_, layout_, nullptr, y_);
  }
  // Adds the parameter gradients into grads(); writes dx().
  void backward() { layer_->backward(params_.data(), grads_.data(), dy_, dx_); }
  void zero_grads() { std::fill(grads_.begin(), grads_.end(), 0.0f); }

  RecurrentLayer& layer() { return *layer_; }
  const ParameterLayout& parameter_layout() const { return params_layout_; }
  const PackedLayout& layout() const { return layout_; }
  std::vector<float>& params() { return params_; }
  std::vector<float>& grads() { return grads_; }
  Matrix& x() { return x_; }
  Matrix& dy() { return dy_; }
  const Matrix& y() const { return y_; }
  const Matrix& dx() const { return dx_; }

 private:
  std::unique_ptr<RecurrentLayer> layer_;
  int T_, B_;
  const std::uint8_t* mask_;
  PackedLayout layout_;
  ParameterLayout params_layout_;
  std::vector<float> params_, grads_;
  Matrix x_, y_, dy_, dx_;
};

}  // namespace rnn_dist::model::bench
