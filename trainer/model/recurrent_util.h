// Internal helpers of the recurrent time loop (recurrent_loop.cc) and its cells (simple_rnn.cc,
// lstm.cc, gru.cc): reusable buffers, per-step mask classification and masked-column fix-ups,
// gate activations. Not part of the model's public API.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "trainer/model/recurrent.h"
#include "trainer/model/small_gemm.h"
#include "trainer/model/tensor.h"

namespace rnn_dist::model::detail {

using Index = Eigen::Index;
// A (rows, cols) view of a column-major buffer whose columns are `stride` floats apart: one gate's
// rows of a (G*u, B) pre-activation block, for example.
using ArrayBlock = Eigen::Map<Eigen::ArrayXXf, 0, Eigen::OuterStride<>>;
using ConstArrayBlock = Eigen::Map<const Eigen::ArrayXXf, 0, Eigen::OuterStride<>>;
using ConstStridedMatrix = Eigen::Map<const Eigen::MatrixXf, 0, Eigen::OuterStride<>>;

inline ArrayBlock block(float* p, Index rows, Index cols, Index stride) {
  return ArrayBlock(p, rows, cols, Eigen::OuterStride<>(stride));
}
inline ConstArrayBlock block(const float* p, Index rows, Index cols, Index stride) {
  return ConstArrayBlock(p, rows, cols, Eigen::OuterStride<>(stride));
}

// Gate activations on one SIMD packet of floats, for cells that apply their gate math in one pass
// over each column: tanh is Eigen's ptanh (what Eigen's tanh() applies to packets), and
// sigmoid(a) = 1 / (1 + exp(-a)) = 0.5 tanh(a / 2) + 0.5 through it. These are the operations the
// cells' earlier Eigen expressions (0.5f * (0.5f * a).tanh() + 0.5f) applied, so the same bits.
using Packet = Eigen::internal::packet_traits<float>::type;
inline constexpr Index kPacket = sizeof(Packet) / sizeof(float);
inline Packet tanh_packet(const Packet& a) { return Eigen::internal::ptanh(a); }
inline Packet sigmoid_packet(const Packet& a) {
  using namespace Eigen::internal;
  const Packet half = pset1<Packet>(0.5f);
  return padd(pmul(half, ptanh(pmul(half, a))), half);
}
// Scalars, for the rows after the last whole packet (the same approximation, evaluated without
// fused multiply-adds: within an ulp or two of the packet version, not always the same bits).
inline float tanh_scalar(float a) { return Eigen::internal::generic_fast_tanh_float(a); }
inline float sigmoid_scalar(float a) { return 0.5f * tanh_scalar(0.5f * a) + 0.5f; }

// Returns a pointer to at least n floats of `buf`, reallocating only when n exceeds its size,
// and then by at least half again: packed batches vary in size, and each reallocation means
// fresh pages to fault in, so the buffers settle after a couple of batches.
inline float* grow(Eigen::VectorXf& buf, Index n) {
  if (buf.size() < n) buf.resize(std::max(n, buf.size() + buf.size() / 2));
  return buf.data();
}

enum class StepMask : std::uint8_t { kNone, kSome, kAll };

// What the layer keeps of a batch's mask: a copy (so the caller's may go away before backward)
// and whether each step has no, some or all columns masked.
struct MaskInfo {
  bool any = false;                // some column of some step is masked
  std::vector<std::uint8_t> mask;  // T*B bytes, valid when any
  std::vector<StepMask> steps;     // T entries, valid when any

  void set(const std::uint8_t* m, int T, int B);
  StepMask step(int t) const { return any ? steps[t] : StepMask::kNone; }
  const std::uint8_t* step_mask(int t, int B) const { return mask.data() + std::size_t(t) * B; }
};

inline void MaskInfo::set(const std::uint8_t* m, int T, int B) {
  any = false;
  if (m == nullptr) return;
  const std::size_t n = std::size_t(T) * B;
  for (std::size_t i = 0; i < n && !any; ++i) any = (m[i] == 0);
  if (!any) return;
  mask.assign(m, m + n);  // reuses capacity once grown
  steps.resize(T);
  for (int t = 0; t < T; ++t) {
    int masked = 0;
    for (int b = 0; b < B; ++b) masked += (m[std::size_t(t) * B + b] == 0);
    steps[t] = masked == 0 ? StepMask::kNone : masked == B ? StepMask::kAll : StepMask::kSome;
  }
}

// For every masked column b (m[b] == 0) of a (rows, B) block with column stride `stride`:
// dst.col(b) = src.col(b), or 0 when src is nullptr.
inline void copy_masked_columns(const std::uint8_t* m, int B, Index rows, const float* src,
                                Index src_stride, float* dst, Index dst_stride) {
  for (int b = 0; b < B; ++b) {
    if (m[b] != 0) continue;
    float* d = dst + b * dst_stride;
    if (src == nullptr)
      std::memset(d, 0, sizeof(float) * rows);
    else
      std::memcpy(d, src + b * src_stride, sizeof(float) * rows);
  }
}

inline void check_shapes(const char* layer, const ConstMatrixRef& x, int n,
                         const PackedLayout& layout, const std::uint8_t* mask, const MatrixRef& y,
                         int u, bool return_sequences) {
  const Index C = layout.columns();
  const Index ycols = return_sequences ? C : layout.B;
  if (layout.T < 1 || layout.B < 1 || x.rows() != n || x.cols() != C || y.rows() != u ||
      y.cols() != ycols)
    throw std::invalid_argument(std::string(layer) + "::forward: x is (" +
                                std::to_string(x.rows()) + ", " + std::to_string(x.cols()) +
                                "), y is (" + std::to_string(y.rows()) + ", " +
                                std::to_string(y.cols()) + ") for input_dim " + std::to_string(n) +
                                ", units " + std::to_string(u) + ", T " +
                                std::to_string(layout.T) + ", B " + std::to_string(layout.B) +
                                ", " + std::to_string(C) + " packed columns");
  if (mask != nullptr && !layout.full())
    throw std::invalid_argument(std::string(layer) +
                                "::forward: a mask needs the full (unpacked) layout");
}

// Packed layouts (recurrent.h): after step t, the new columns [w, w_next) of step t+1 start from
// the state of step t's last column w-1; copy it into them in the (rows, w_next) state block.
inline void carry_last_column(float* block, Index rows, int w, int w_next) {
  const float* src = block + Index(w - 1) * rows;
  for (int j = w; j < w_next; ++j) std::memcpy(block + Index(j) * rows, src, sizeof(float) * rows);
}

// The backward of carry_last_column: the gradients of the copies [w, w_next) of a (rows, w_next)
// block add up in column w-1.
inline void fold_into_last_column(float* __restrict block, Index rows, int w, int w_next) {
  float* __restrict dst = block + Index(w - 1) * rows;
  for (int j = w; j < w_next; ++j) {
    const float* src = block + Index(j) * rows;
    for (Index r = 0; r < rows; ++r) dst[r] += src[r];
  }
}

// Forward of a step where every example is padding (masks come with the full layout, so w == B):
// step t's state block is step t-1's, the zero state at t = 0 (prev == nullptr).
inline void carry_state_over(float* state, const float* prev, Index rows, int w) {
  if (prev != nullptr)
    std::memcpy(state, prev, sizeof(float) * rows * w);
  else
    std::memset(state, 0, sizeof(float) * rows * w);
}

// Backward start: dh (rows, B) = the gradient of step T-1's state block: dy, the final output's,
// or zero with return_sequences (the outputs' gradients come in with gather_step_gradient).
inline void start_state_gradient(bool return_sequences, const ConstMatrixRef& dy, float* dh,
                                 Index rows, int B) {
  if (return_sequences)
    MatrixMap(dh, rows, B).setZero();
  else
    MatrixMap(dh, rows, B) = dy;
}

// Backward, at the top of step t: dh holds the gradient of step t's state block (width[t+1]
// columns). The copies that step t+1's new columns started from give their gradients back to
// column width[t]-1, and with return_sequences step t's outputs (dy's block t) add theirs.
inline void gather_step_gradient(const PackedLayout& layout, int t, bool return_sequences,
                                 const ConstMatrixRef& dy, float* dh, Index rows) {
  const int w = layout.width[t];
  fold_into_last_column(dh, rows, w, layout.width[t + 1]);
  if (return_sequences) MatrixMap(dh, rows, w) += dy.middleCols(layout.offset[t], w);
}

// y (rows, C), packed like the input, from a (rows, state_columns) state buffer: step t's
// width[t] columns are the first ones of its state block.
inline void copy_output_sequence(const PackedLayout& layout, const float* states, Index rows,
                                 MatrixRef y) {
  if (layout.full()) {
    y = ConstMatrixMap(states, rows, layout.columns());
    return;
  }
  for (int t = 0; t < layout.T; ++t)
    y.middleCols(layout.offset[t], layout.width[t]) =
        ConstMatrixMap(states + layout.state_offset(t) * rows, rows, layout.width[t]);
}

inline void check_backward(const char* layer, bool ready, const ConstMatrixRef& dy, int u,
                           Index ycols, const MatrixRef& dx, int n, Index xcols) {
  if (!ready)
    throw std::logic_error(std::string(layer) +
                           "::backward: no forward() since the last backward() (backward "
                           "consumes the cached activations)");
  if (dy.rows() != u || dy.cols() != ycols || (dx.size() != 0 && (dx.rows() != n || dx.cols() != xcols)))
    throw std::invalid_argument(std::string(layer) + "::backward: dy is (" +
                                std::to_string(dy.rows()) + ", " + std::to_string(dy.cols()) +
                                "), dx is (" + std::to_string(dx.rows()) + ", " +
                                std::to_string(dx.cols()) + "); expected (" + std::to_string(u) +
                                ", " + std::to_string(ycols) + ") and (" + std::to_string(n) +
                                ", " + std::to_string(xcols) + ") or empty");
}

// acc += rowwise sum of the (rows, B) block z (the bias gradient of one step).
inline void add_row_sums(const float* __restrict z, Index rows, Index B, float* __restrict acc) {
  for (Index b = 0; b < B; ++b)
    for (Index r = 0; r < rows; ++r) acc[r] += z[b * rows + r];
}

}  // namespace rnn_dist::model::detail
