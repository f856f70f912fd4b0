// The time loop shared by SimpleRNN, LSTM and GRU. A cell (the subclass) supplies only its gate
// math, forward and backward, for one step's block of columns; the loop owns everything else:
// the input projection of all steps at once, walking the packed layout (recurrent.h), masked
// and all-padding steps, carrying states into the columns that start from the padding
// trajectory, the recurrent product of the backward pass, and the whole-sequence weight, bias and
// input gradients. Speed work on any of these happens once, for all three cells.
//
// Buffers (grown to the largest batch, reused; no allocation in the time loop):
//   gates (G, P)   W^T x + b_in for every packed column; the cell overwrites step t's block with
//                  what its backward needs, and backward overwrites that with dZ, the gradient
//                  of the input-side pre-activation W^T x + b_in;
//   states (u, S)  one buffer per state tensor (h; LSTM also c), in state blocks (recurrent.h);
// for G = gates * units, P = layout.columns(), S = layout.state_columns().
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "trainer/model/recurrent.h"
#include "trainer/model/recurrent_util.h"

namespace rnn_dist::model {

// What distinguishes one cell's parameters and state from another's.
struct CellShape {
  const char* name;  // Keras class name: "SimpleRNN", "LSTM", "GRU"
  int gates;         // blocks of `units` rows in the pre-activation: 1, 4, 3
  int states;        // tensors carried from step to step: 1 (h), 2 for LSTM (h, c)
  int bias_rows;     // 1, or 2 for GRU reset_after (b_in, then b_rec)
};

class RecurrentLoop : public RecurrentLayer {
 public:
  static constexpr int kMaxStates = 2;

  std::string type_name() const final { return shape_.name; }
  // <name>/kernel (n, G), <name>/recurrent_kernel (u, G), <name>/bias (G) or (bias_rows, G).
  void declare(ParameterLayout& layout, const std::string& name) final;
  // Keras: glorot_uniform kernel, orthogonal recurrent kernel, zero bias (then the cell's
  // initial_bias).
  void init(std::span<float> params, std::mt19937_64& rng) const final;
  void forward_packed(const float* params, ConstMatrixRef x, const PackedLayout& layout,
                      const std::uint8_t* mask, MatrixRef y) final;
  // REQUIRES: exactly one backward() per forward(): it overwrites the cached gates with their
  // gradients (throws std::logic_error on a second call).
  void backward(const float* params, float* grads, ConstMatrixRef dy, MatrixRef dx) final;

 protected:
  using Index = Eigen::Index;

  RecurrentLoop(CellShape shape, int input_dim, int units, bool return_sequences);

  // Step t's w columns. Blocks are column-major: z has stride G, states stride u.
  struct Step {
    int t = 0, w = 0;
    Index column = 0;  // layout.offset[t]: step t's first packed column (for per-column caches)
    float* z = nullptr;  // forward: in W^T x_t + b_in; the cell leaves what backward needs.
                         // backward: in that; out dZ (the loop zeroes masked columns after)
    std::array<const float*, kMaxStates> prev{};  // step t-1's state blocks; nullptr at t = 0
    std::array<const float*, kMaxStates> state{};
  };
  // Forward: writes step t's states from s.z and s.prev.
  struct ForwardStep : Step {
    std::array<float*, kMaxStates> out{};
  };
  // Backward: from dstate = dL/d(state_t), writes dZ into s.z and, into dprev, the parts of
  // dL/d(state_{t-1}) that do not pass through the recurrent kernel (see BackwardResult).
  struct BackwardStep : Step {
    std::array<const float*, kMaxStates> dstate{};
    std::array<float*, kMaxStates> dprev{};
    const std::uint8_t* mask = nullptr;  // B bytes when some column is masked, else nullptr:
                                         // the cell zeroes masked columns of its own caches
  };
  struct BackwardResult {
    // (G, w), stride G: dL/d(U^T h_{t-1}); the loop adds U times it into dprev[0].
    const float* recurrent_gradient;
    // Whether the cell wrote dprev[0] (then the product adds to it) or left it (it overwrites).
    bool wrote_dh_prev;
    // How many leading gate rows of recurrent_gradient the product uses (0: all G). A cell whose
    // last gate block's recurrent product is not U^T h_{t-1} (GRU reset-before: U_h^T (r h))
    // takes that block's part of dh_{t-1} itself.
    Index recurrent_rows = 0;
  };

  // The cell's hooks. P is the layout's column count.
  virtual void initial_bias(std::span<float> /*bias*/) const {}  // after zeroing
  virtual void begin_forward(Index /*P*/) {}
  virtual void step_forward(const float* params, const ForwardStep& s) = 0;
  // At an all-padding step (nothing computed): clear any per-column cache of the step.
  virtual void skip_backward(const Step& /*s*/) {}
  virtual void begin_backward() {}
  virtual BackwardResult step_backward(const BackwardStep& s) = 0;
  // Adds the recurrent-kernel gradient into grads, through add_recurrent_kernel_gradient, which
  // the loop restricts to one chunk of columns per call (the whole-sequence products run chunk
  // by chunk, so that each chunk of dZ is read from cache). dZ is gates() (G, P) with masked
  // columns zero; prev_states (u, R) is the state before each of the last
  // R = layout.recurrent_columns() columns of dZ.
  virtual void finish_backward(float* grads, ConstMatrixMap prev_states) = 0;
  // Once, after the last finish_backward: any gradient the cell kept itself (GRU's recurrent
  // bias).
  virtual void end_backward(float* /*grads*/) {}

  // dUt (rows, u) += dz.rightCols(R) prev_states^T for a block of `rows` rows of the
  // recurrent kernel's gradient and the matching (rows, P) gradient block (or of any (rows, P)
  // block and (u, R) operand paired the same way): the product every cell's finish_backward
  // does, over the current chunk of the R columns (nothing when R = 0, a one-step batch).
  void add_recurrent_kernel_gradient(MatrixRef dUt, ConstMatrixRef dz, ConstMatrixMap prev_states);

  const PackedLayout& layout() const { return layout_; }
  // Backward (from begin_backward on): U (u, G) = the transposed recurrent kernel, column-major.
  const float* recurrent_rows() const { return u_rows_.data(); }
  Index gate_rows() const { return Index(shape_.gates) * units_; }
  float* gates() { return gates_.data(); }

  // Offsets of the layer's tensors in the flat parameter (and gradient) buffer.
  std::size_t kernel_ = 0, recurrent_kernel_ = 0, bias_ = 0;

 private:
  float* state_block(int i, int t);  // state i's block of step t
  void point_at_states(Step& s);

  CellShape shape_;
  bool declared_ = false;
  Eigen::VectorXf gates_;
  std::array<Eigen::VectorXf, kMaxStates> states_;
  // Backward: the gradients of step t's and of step t-1's state blocks, (u, B) each.
  std::array<Eigen::VectorXf, kMaxStates> dstate_, dprev_;
  Eigen::VectorXf db_;             // (G) input-bias gradient, summed step by step
  Eigen::VectorXf u_rows_, w_rows_;  // backward: transposed kernels U (u, G) and W (n, G)
  Index chunk_begin_ = 0, chunk_end_ = 0;  // finish_backward's chunk of the R columns
  detail::MaskInfo mask_;
  const float* x_ = nullptr;  // the forward input (the caller keeps it alive until backward)
  Index x_stride_ = 0;
  PackedLayout layout_;
  bool ready_ = false;  // a forward's activations are waiting for backward
};

}  // namespace rnn_dist::model
