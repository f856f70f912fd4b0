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
// Packed batches (PackedLayout): without masking, every example of a pre-padded batch runs the
// same computation through its padding prefix (token 0 from the zero state), so Model packs a
// batch so that this is done once. Columns are sorted by where their real tokens start, step t
// keeps only the width[t] columns still needed, and the shared padding trajectory is one column;
// see PackedLayout. The full layout (width[t] == B) is the plain time-major batch of tensor.h.
//
// Parameters are not owned: forward/backward get the model's flat parameter buffer and backward
// ACCUMULATES (+=) into the flat gradient buffer at the layer's offsets; it never changes
// parameters.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "trainer/model/parameters.h"
#include "trainer/model/tensor.h"

namespace rnn_dist::model {

// How the T steps of a batch of B sequences are packed into the columns of a (features, columns)
// matrix. Step t occupies the width[t] columns [offset[t], offset[t] + width[t]), and:
//   - column j of step t continues column j of step t-1 (same state) when j < width[t-1];
//   - a column j >= width[t-1] starts from the state of column width[t-1] - 1 of step t-1 (for
//     Model's packing: an example whose real tokens start at t, taking over from the shared
//     padding trajectory, which is the last column of every step it runs in);
//   - at t = 0 every column starts from the zero state;
//   - the B final outputs are columns [0, width[T-1]) of step T-1, then copies of its last column.
// So a layer computes sum(width) columns instead of T*B. Invariants (checked by set()):
// 1 <= width[0] <= width[1] <= ... <= width[T-1] <= B, and width[T] == B.
// The full layout (width[t] == B for all t) is tensor.h's time-major batch.
struct PackedLayout {
  int T = 0, B = 0;
  std::vector<int> width;              // T + 1 entries, width[T] == B
  std::vector<Eigen::Index> offset;    // T + 1 entries, offset[T] == columns()

  // Reuse the vectors' capacity: no allocation once grown to the largest T.
  void set_full(int T, int B);
  // step_widths: T entries. Throws std::invalid_argument naming the first broken invariant.
  void set(int T, int B, std::span<const int> step_widths);
  // The layout of a pre-padded batch whose examples are ordered by their first real token:
  // started[t] (T entries, non-decreasing, <= B) examples have started by step t, and step t runs
  // them plus the shared all-padding column while some example has not (started[t] < B).
  void set_shared_prefix(int T, int B, std::span<const int> started);

  bool full() const { return columns() == Eigen::Index(T) * B; }
  Eigen::Index columns() const { return offset.empty() ? 0 : offset[T]; }
  // A layer keeps its states h_t, c_t in a buffer where step t's block holds width[t+1] columns
  // (its own width[t], then the copies that the new columns of step t+1 start from), so that the
  // previous state of step t is one contiguous (u, width[t]) block.
  Eigen::Index state_offset(int t) const { return offset[t + 1] - width[0]; }
  Eigen::Index state_columns() const { return columns() - width[0] + B; }
  // The state step t >= 1 starts from: step t-1's state block, exactly width[t] columns.
  Eigen::Index prev_state_offset(int t) const { return state_offset(t - 1); }
  // Steps 1..T-1 are the last recurrent_columns() packed columns, and the j-th of them starts
  // from state column j: a recurrent-kernel gradient is one product of those gate columns with
  // the first recurrent_columns() state columns.
  Eigen::Index recurrent_columns() const { return columns() - width[0]; }

 private:
  void finish();
};

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

  // x: (input_dim, C) for C = layout.columns(). mask: nullptr or C bytes, only with the full
  // layout. y: (units, C) if return_sequences (packed like x) else (units, B), sized by the
  // caller. x must stay alive and unchanged until backward() returns. The layout is copied.
  virtual void forward_packed(const float* params, ConstMatrixRef x, const PackedLayout& layout,
                              const std::uint8_t* mask, MatrixRef y) = 0;
  // The full layout: x (input_dim, T*B), mask nullptr or T*B bytes, y (units, T*B) or (units, B).
  void forward(const float* params, ConstMatrixRef x, const std::uint8_t* mask, int T, int B,
               MatrixRef y) {
    full_layout_.set_full(T, B);
    forward_packed(params, x, full_layout_, mask, y);
  }
  // dy: same shape as forward's y. Adds parameter gradients into grads. If dx is non-empty
  // (the shape of x), writes (overwrites) the gradient w.r.t. x into it.
  // REQUIRES: the last forward() call was for this batch.
  virtual void backward(const float* params, float* grads, ConstMatrixRef dy, MatrixRef dx) = 0;

  int input_dim() const { return input_dim_; }
  int units() const { return units_; }
  bool return_sequences() const { return return_sequences_; }

 protected:
  int input_dim_;
  int units_;
  bool return_sequences_;

 private:
  PackedLayout full_layout_;  // forward()'s, kept so that its capacity is reused
};

}  // namespace rnn_dist::model
