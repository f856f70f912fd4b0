// The sequential model: Embedding(num_words, embed) -> recurrent stack -> Dense(1), sigmoid in
// the loss. Owns the flat parameter and gradient buffers (parameters.h) and the activations of
// the last forward pass, which backward() uses.
//
// Thread-compatibility: one Model per thread; no shared mutable state.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "trainer/model/dense.h"
#include "trainer/model/embedding.h"
#include "trainer/model/parameters.h"
#include "trainer/model/recurrent.h"
#include "trainer/model/spec.h"
#include "trainer/model/tensor.h"

namespace rnn_dist::model {

class Model {
 public:
  // Builds the layers and the parameter layout (parameters zero until init()).
  // Throws SpecError for an invalid spec.
  explicit Model(const ModelSpec& spec);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelSpec& spec() const { return spec_; }
  const ParameterLayout& layout() const { return layout_; }
  std::span<float> params() { return params_; }
  std::span<const float> params() const { return params_; }
  std::span<float> grads() { return grads_; }
  std::span<const float> grads() const { return grads_; }

  // Keras initialisers from `seed`: the same seed gives the same parameters on every machine.
  void init(std::uint64_t seed);
  void zero_grads();

  // tokens: T*B ids, time-major (tokens[t*B + b]), 0 = padding. Writes B logits (pre-sigmoid).
  // With spec().mask_padding, steps whose token is 0 are masked (Keras mask_zero).
  // Without masking the batch is packed (recurrent.h): the examples are ordered by the step of
  // their first non-zero token, and the run of zeros in front of it, identical for every
  // example, is computed once as one shared column. Same results as the plain batch up to
  // float rounding, for sum(lengths) + max(padding) columns instead of T*B.
  // Throws std::invalid_argument unless T, B >= 1, tokens.size() == T*B and logits.size() == B.
  void forward(std::span<const std::int32_t> tokens, int T, int B, std::span<float> logits);
  // dlogits: B values (dLoss/dlogit). Accumulates all parameter gradients into grads().
  // REQUIRES: forward() was the last call, for this batch.
  void backward(std::span<const float> dlogits);

  // Packing is on by default; off computes every column of every step (tests compare the two,
  // benchmarks measure the difference).
  void set_packing(bool on) { packing_ = on; }
  // The columns (example-steps) the recurrent layers computed for the last forward(): T*B
  // unpacked, sum(lengths) + the shared column's steps packed.
  std::int64_t computed_columns() const { return batch_layout_.columns(); }

  // Keras-style model.summary() table: layer (type), output shape, params; totals.
  std::string summary() const;

 private:
  ModelSpec spec_;
  ParameterLayout layout_;
  Embedding embedding_;
  std::vector<std::unique_ptr<RecurrentLayer>> recurrent_;
  Dense head_;
  std::vector<float> params_;
  std::vector<float> grads_;

  // Orders the batch by where its real tokens start and fills tokens_ and batch_layout_.
  void pack(std::span<const std::int32_t> tokens, int T, int B);

  bool packing_ = true;
  // Activations and their gradients, grown to the largest batch and reused.
  int T_ = 0, B_ = 0;
  PackedLayout batch_layout_;
  std::vector<std::int32_t> tokens_;       // as the layers see them: batch_layout_.columns() ids
  std::vector<std::int32_t> order_;        // column j of the layers is example order_[j]
  std::vector<int> first_real_, count_;  // pack()'s scratch
  std::vector<float> logits_;              // in the layers' column order
  std::vector<std::uint8_t> mask_;
  std::vector<std::vector<float>> acts_;   // acts_[0] embedding output, acts_[i+1] layer i output
  std::vector<float> dlogits_;
  std::vector<float> dbuf_[2];             // ping-pong gradient buffers between layers
};

}  // namespace rnn_dist::model
