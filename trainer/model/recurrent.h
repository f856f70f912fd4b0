// The interface shared by SimpleRNN, LSTM and GRU.
//
// A recurrent layer reads a time-major input sequence x (n, T*B) (see tensor.h) and produces
// either its whole output sequence (u, T*B) (return_sequences, every layer of a stack but the
// last) or its final output (u, B). forward() keeps what backward() needs in the layer's own
// cache, whose buffers are reused from batch to batch (no allocation once they have grown to the
// largest batch; none ever inside the time loop).
//
// Masking (Keras mask_zero semantics): when `mask` is given, mask[t*B + b] == 0 means step t of
// example b is padding. At a masked step the layer's state and output are carried over unchanged
// from step t-1 (zero before the first step), and no gradient flows through the step's gates.
//
// Parameters are not owned: forward/backward get the model's flat parameter buffer and backward
// ACCUMULATES (+=) into the flat gradient buffer at the layer's offsets; it never changes
// parameters.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>

#include "trainer/model/parameters.h"
#include "trainer/model/tensor.h"

namespace rnn_dist::model {

class RecurrentLayer {
 public:
  RecurrentLayer(int input_dim, int units, bool return_sequences)
      : input_dim_(input_dim), units_(units), return_sequences_(return_sequences) {}
  virtual ~RecurrentLayer() = default;
  RecurrentLayer(const RecurrentLayer&) = delete;
  RecurrentLayer& operator=(const RecurrentLayer&) = delete;

  // "SimpleRNN", "LSTM" or "GRU" (Keras class names, for the summary table).
  virtual std::string type_name() const = 0;
  // Registers this layer's tensors as `<name>/kernel`, `<name>/recurrent_kernel`, `<name>/bias`
  // with Keras shapes, and remembers their offsets.
  virtual void declare(ParameterLayout& layout, const std::string& name) = 0;
  // Keras initialisers: glorot_uniform kernel, orthogonal recurrent kernel, zero bias (LSTM:
  // forget-gate bias 1). REQUIRES: declare() was called; params spans the whole model buffer.
  virtual void init(std::span<float> params, std::mt19937_64& rng) const = 0;

  // x: (input_dim, T*B). mask: nullptr or T*B bytes. y: (units, T*B) if return_sequences else
  // (units, B), sized by the caller. x must stay alive and unchanged until backward() returns.
  virtual void forward(const float* params, ConstMatrixRef x, const std::uint8_t* mask, int T,
                       int B, MatrixRef y) = 0;
  // dy: same shape as forward's y. Adds parameter gradients into grads. If dx is non-empty
  // ((input_dim, T*B)), writes (overwrites) the gradient w.r.t. x into it.
  // REQUIRES: the last forward() call was for this batch.
  virtual void backward(const float* params, float* grads, ConstMatrixRef dy, MatrixRef dx) = 0;

  int input_dim() const { return input_dim_; }
  int units() const { return units_; }
  bool return_sequences() const { return return_sequences_; }

 protected:
  int input_dim_;
  int units_;
  bool return_sequences_;
};

}  // namespace rnn_dist::model
