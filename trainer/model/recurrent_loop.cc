#include "trainer/model/recurrent_loop.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "trainer/model/init.h"
#include "trainer/model/small_gemm.h"

namespace rnn_dist::model {

using detail::StepMask;

RecurrentLoop::RecurrentLoop(CellShape shape, int input_dim, int units, bool return_sequences)
    : RecurrentLayer(input_dim, units, return_sequences), shape_(shape) {
  if (input_dim < 1 || units < 1)
    throw std::invalid_argument(std::string(shape.name) + ": input_dim and units must be >= 1");
  if (shape.states < 1 || shape.states > kMaxStates)
    throw std::logic_error(std::string(shape.name) + ": a cell carries 1 or 2 states");
}

void RecurrentLoop::declare(ParameterLayout& layout, const std::string& name) {
  const std::int64_t n = input_dim_, u = units_, G = gate_rows();
  kernel_ = layout.add(name + "/kernel", {n, G});
  recurrent_kernel_ = layout.add(name + "/recurrent_kernel", {u, G});
  bias_ = shape_.bias_rows == 1 ? layout.add(name + "/bias", {G})
                                : layout.add(name + "/bias", {shape_.bias_rows, G});
  declared_ = true;
}

void RecurrentLoop::init(std::span<float> params, std::mt19937_64& rng) const {
  if (!declared_) throw std::logic_error(std::string(shape_.name) + "::init before declare");
  const int G = int(gate_rows());
  const std::size_t n = input_dim_, u = units_;
  glorot_uniform(params.subspan(kernel_, n * G), input_dim_, G, rng);
  orthogonal(params.subspan(recurrent_kernel_, u * G), units_, G, rng);
  auto bias = params.subspan(bias_, std::size_t(shape_.bias_rows) * G);
  std::fill(bias.begin(), bias.end(), 0.0f);
  initial_bias(bias);
}

float* RecurrentLoop::state_block(int i, int t) {
  return states_[i].data() + layout_.state_offset(t) * units_;
}

// Points s at step t's state blocks and at step t-1's (nullptr at t = 0).
void RecurrentLoop::point_at_states(Step& s) {
  for (int i = 0; i < shape_.states; ++i) {
    s.prev[i] = s.t > 0 ? state_block(i, s.t - 1) : nullptr;
    s.state[i] = state_block(i, s.t);
  }
}

// x (n, P), mask (P) or null, y (u, P) or (u, B), for P = layout.columns().
void RecurrentLoop::forward_packed(const float* params, ConstMatrixRef x,
                                   const PackedLayout& layout, const std::uint8_t* mask,
                                   MatrixRef y) {
  detail::check_shapes(shape_.name, x, input_dim_, layout, mask, y, units_, return_sequences_);
  const int T = layout.T, B = layout.B;
  const Index n = input_dim_, u = units_, G = gate_rows(), P = layout.columns();
  layout_ = layout;  // reuses the vectors' capacity
  mask_.set(mask, T, B);
  x_ = x.data();
  x_stride_ = x.outerStride();
  float* Z = detail::grow(gates_, G * P);
  for (int i = 0; i < shape_.states; ++i) detail::grow(states_[i], u * layout.state_columns());
  begin_forward(P);

  // The input projection Z = W^T x + b_in. With more than one gate block, a chunk of
  // kGemmNtSlice columns (or more, to cover the step) just ahead of the step that needs it, so
  // that the step reads its block from cache (each column is its own product: the same values as
  // one product over all columns). LSTM(32)'s packed forward at batch 128 went from 9.1 to 7.8 ms
  // (bench_onednn); SimpleRNN's went from 1.5 to 2.1 ms chunked, so it projects all at once.
  const Index chunk = shape_.gates > 1 ? detail::kGemmNtSlice : P;
  Index projected = 0;
  auto project_until = [&](Index end) {
    if (end <= projected) return;
    const Index to = std::min(P, std::max(end, projected + chunk));
    detail::gemm_nn(G, to - projected, n, params + kernel_, G,
                    x.data() + projected * x.outerStride(), x.outerStride(), Z + projected * G, G,
                    false, params + bias_);
    projected = to;
  };
  ForwardStep s;
  for (int t = 0; t < T; ++t) {
    s.t = t;
    s.w = layout.width[t];
    s.column = layout.offset[t];
    project_until(s.column + s.w);
    s.z = Z + s.column * G;
    point_at_states(s);
    for (int i = 0; i < shape_.states; ++i) s.out[i] = state_block(i, t);
    const StepMask sm = mask_.step(t);
    if (sm == StepMask::kAll) {  // every example is padding here: carry the states over
      for (int i = 0; i < shape_.states; ++i) detail::carry_state_over(s.out[i], s.prev[i], u, s.w);
      continue;  // masks come with the full layout: no new columns to start
    }
    step_forward(params, s);
    for (int i = 0; i < shape_.states; ++i) {
      if (sm == StepMask::kSome)
        detail::copy_masked_columns(mask_.step_mask(t, B), B, u, s.prev[i], u, s.out[i], u);
      detail::carry_last_column(s.out[i], u, s.w, layout.width[t + 1]);
    }
  }
  const float* H = states_[0].data();
  if (return_sequences_)
    detail::copy_output_sequence(layout, H, u, y);
  else
    y = ConstMatrixMap(H + layout.state_offset(T - 1) * u, u, B);
  ready_ = true;
}

// dy (u, P) or (u, B); dx (n, P) or empty.
void RecurrentLoop::backward(const float* params, float* grads, ConstMatrixRef dy, MatrixRef dx) {
  const PackedLayout& L = layout_;
  const int T = L.T, B = L.B;
  const Index n = input_dim_, u = units_, G = gate_rows(), P = L.columns();
  detail::check_backward(shape_.name, ready_, dy, units_, return_sequences_ ? P : B, dx,
                         input_dim_, P);
  ready_ = false;
  float* Z = gates_.data();
  std::array<float*, kMaxStates> dstate{}, dprev{};
  for (int i = 0; i < shape_.states; ++i) {
    dstate[i] = detail::grow(dstate_[i], u * B);
    dprev[i] = detail::grow(dprev_[i], u * B);
  }
  // dh starts as the final output's gradient (with return_sequences zero: each step's outputs
  // add theirs as the loop reaches them, gather_step_gradient); the other states' at zero.
  detail::start_state_gradient(return_sequences_, dy, dstate[0], u, B);
  for (int i = 1; i < shape_.states; ++i) MatrixMap(dstate[i], u, B).setZero();
  float* U = detail::grow(u_rows_, u * G);  // (u, G) = (U^T)^T, for dh_{t-1} = U dz_t
  detail::transpose_into(params + recurrent_kernel_, G, u, U);
  float* db = detail::grow(db_, G);
  VectorMap(db, G).setZero();
  begin_backward();

  BackwardStep s;
  for (int t = T - 1; t >= 0; --t) {
    s.t = t;
    s.w = L.width[t];
    s.column = L.offset[t];
    s.z = Z + s.column * G;
    // The gradients of step t's state blocks, gathered down to its w columns.
    detail::gather_step_gradient(L, t, return_sequences_, dy, dstate[0], u);
    for (int i = 1; i < shape_.states; ++i)
      detail::fold_into_last_column(dstate[i], u, s.w, L.width[t + 1]);
    point_at_states(s);
    const StepMask sm = mask_.step(t);
    if (sm == StepMask::kAll) {  // padding everywhere: the gradients pass to step t-1 unchanged
      MatrixMap(s.z, G, s.w).setZero();
      skip_backward(s);
      continue;
    }
    s.mask = sm == StepMask::kSome ? mask_.step_mask(t, B) : nullptr;
    for (int i = 0; i < shape_.states; ++i) {
      s.dstate[i] = dstate[i];
      s.dprev[i] = dprev[i];
    }
    const BackwardResult r = step_backward(s);
    if (s.mask != nullptr) detail::copy_masked_columns(s.mask, B, G, nullptr, G, s.z, G);
    detail::add_row_sums(s.z, G, s.w, db);
    if (t > 0) {
      const Index rows = r.recurrent_rows > 0 ? r.recurrent_rows : G;
      detail::gemm_nn(u, s.w, rows, U, u, r.recurrent_gradient, G, dprev[0], u, r.wrote_dh_prev);
      // A masked column's states were carried over: so are their gradients.
      if (s.mask != nullptr)
        for (int i = 0; i < shape_.states; ++i)
          detail::copy_masked_columns(s.mask, B, u, dstate[i], u, dprev[i], u);
    }
    for (int i = 0; i < shape_.states; ++i) std::swap(dstate[i], dprev[i]);
  }

  // Weight and input gradients over all steps (Z now holds dZ; masked columns are zero). With
  // more than one gate block, chunk by chunk of kGemmNtSlice columns (gemm_nt_acc's slice, so the
  // sums are those of one product over all columns), so that the three products over a chunk
  // read it from cache: dW += dZ X^T, the cell's dU += dZ H^T (its chunk of the recurrent
  // columns, counted from the R columns' own start), dx = W dZ. All of dZ is 13.9 MB for the
  // LSTM's default batch of 128; chunked, its packed backward went from 12.8 to 11.0 ms
  // (bench_onednn). SimpleRNN's dZ is no bigger than its input and state streams, and it ran
  // 10% slower chunked: one chunk.
  const Index chunk = shape_.gates > 1 ? detail::kGemmNtSlice : P;
  const Index R = L.recurrent_columns();
  const ConstMatrixMap dZ(Z, G, P);
  detail::ConstStridedMatrix X(x_, n, P, Eigen::OuterStride<>(x_stride_));
  MatrixMap dWt(grads + kernel_, G, n);
  const ConstMatrixMap prev_states(states_[0].data(), u, R);
  const float* W = nullptr;
  if (dx.size() != 0) {
    W = detail::grow(w_rows_, n * G);
    detail::transpose_into(params + kernel_, G, n, w_rows_.data());
  }
  for (Index c0 = 0; c0 < P; c0 += chunk) {  // R < P: the recurrent chunks end first
    const Index len = std::min(chunk, P - c0);
    detail::gemm_nt_acc(dWt, dZ.middleCols(c0, len), X.middleCols(c0, len));
    chunk_begin_ = c0;
    chunk_end_ = std::min(R, c0 + chunk);
    if (chunk_end_ > chunk_begin_) finish_backward(grads, prev_states);
    if (W != nullptr)
      detail::gemm_nn(n, len, G, W, n, Z + c0 * G, G, dx.data() + c0 * dx.outerStride(),
                      dx.outerStride(), false);
  }
  VectorMap(grads + bias_, G) += VectorMap(db, G);
  end_backward(grads);
}

void RecurrentLoop::add_recurrent_kernel_gradient(MatrixRef dUt, ConstMatrixRef dz,
                                                  ConstMatrixMap prev_states) {
  const Index R = prev_states.cols(), len = chunk_end_ - chunk_begin_;
  if (R == 0 || len <= 0) return;
  detail::gemm_nt_acc(dUt, dz.rightCols(R).middleCols(chunk_begin_, len),
                      prev_states.middleCols(chunk_begin_, len));
}

}  // namespace rnn_dist::model
