// Keras GRU, reset_after=True (the Keras 2/3 default, cuDNN-compatible; sigmoid recurrent
// activation, tanh activation, zero initial state).
//
// Parameters (Keras shapes; gate order z, r, h along the 3u axis):
//   <name>/kernel (n, 3u), <name>/recurrent_kernel (u, 3u),
//   <name>/bias (2, 3u): row 0 the input bias b_in, row 1 the recurrent bias b_rec.
// Math, per step t (W^T = map(kernel) (3u, n), U^T = map(recurrent_kernel) (3u, u)):
//   [xz xr xh] = W^T x_t + b_in;  [hz hr hh] = U^T h_{t-1} + b_rec
//   z = sig(xz + hz);  r = sig(xr + hr);  n = tanh(xh + r * hh);  h_t = z h_{t-1} + (1 - z) n
// A masked step (mask == 0) carries h over unchanged; see recurrent.h.
#pragma once

#include <cstdint>
#include <string>

#include "trainer/model/recurrent.h"
#include "trainer/model/recurrent_util.h"

namespace rnn_dist::model {

// What GRU backward needs from forward. Buffers grow to the largest batch seen and are reused.
// P = layout.columns(), S = layout.state_columns() (T*B for the full layout).
struct GruCache {
  Eigen::VectorXf gates;  // (3u, P): W^T x + b_in, then the activated [z r n] of each step;
                          // backward overwrites it with the input-side pre-activation gradients
  Eigen::VectorXf hh;     // (u, P): hh = (U^T h_{t-1} + b_rec)[h rows]; backward: d(hh) = dn' r
  Eigen::VectorXf h;      // (u, S) hidden states h_t, in state blocks (recurrent.h)
  Eigen::VectorXf rec;    // (3u, B) per-step U^T h_{t-1} + b_rec (forward) / its gradient (backward)
  Eigen::VectorXf dh, dh_prev;  // (u, B) backward scratch
  Eigen::VectorXf db_rec;       // (3u) recurrent-bias gradient accumulator
  Eigen::VectorXf u_rows, w_rows;  // backward: transposed kernels U (u, 3u) and W (n, 3u)
  Eigen::VectorXf nt_scratch;      // backward: gemm_nt_acc workspace
  detail::MaskInfo mask;
  const float* x = nullptr;  // the forward input (caller keeps it alive until backward)
  Eigen::Index x_stride = 0;
  PackedLayout layout;
  bool ready = false;  // a forward's activations are waiting for backward
};

class Gru final : public RecurrentLayer {
 public:
  Gru(int input_dim, int units, bool return_sequences);

  std::string type_name() const override { return "GRU"; }
  void declare(ParameterLayout& layout, const std::string& name) override;
  void init(std::span<float> params, std::mt19937_64& rng) const override;
  void forward_packed(const float* params, ConstMatrixRef x, const PackedLayout& layout,
                      const std::uint8_t* mask, MatrixRef y) override;
  // REQUIRES: exactly one backward() per forward(): it overwrites the cached gates with their
  // gradients (throws std::logic_error on a second call).
  void backward(const float* params, float* grads, ConstMatrixRef dy, MatrixRef dx) override;

  // Keras (reset_after): 3 * (n*u + u*u + 2*u).
  static std::int64_t parameter_count(int input_dim, int units) {
    return 3LL * (std::int64_t(input_dim) * units + std::int64_t(units) * units + 2LL * units);
  }

 private:
  std::size_t kernel_ = 0, recurrent_kernel_ = 0, bias_ = 0;  // offsets into the flat buffer
  bool declared_ = false;
  GruCache cache_;
};

}  // namespace rnn_dist::model
