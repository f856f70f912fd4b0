// Keras LSTM (unit_forget_bias, sigmoid recurrent activation, tanh activation, zero initial state).
//
// Parameters (Keras shapes; gate order i, f, c, o along the 4u axis):
//   <name>/kernel (n, 4u), <name>/recurrent_kernel (u, 4u), <name>/bias (4u).
// Math, per step t (W^T = map(kernel) (4u, n), U^T = map(recurrent_kernel) (4u, u)):
//   z = W^T x_t + U^T h_{t-1} + b;  i = sig(z_i), f = sig(z_f), g = tanh(z_c), o = sig(z_o)
//   c_t = f * c_{t-1} + i * g;      h_t = o * tanh(c_t)           (h_{-1} = c_{-1} = 0)
// A masked step (mask == 0) carries h and c over unchanged; see recurrent.h.
#pragma once

#include <cstdint>
#include <string>

#include "trainer/model/recurrent.h"
#include "trainer/model/recurrent_util.h"

namespace rnn_dist::model {

// What LSTM backward needs from forward. Buffers grow to the largest batch seen and are reused.
// P = layout.columns(), S = layout.state_columns() (P + B - width[0]; T*B for the full layout).
struct LstmCache {
  Eigen::VectorXf gates;  // (4u, P): W^T x + b, then the activated gates [i f g o] of each step;
                          // backward overwrites it with dZ (the pre-activation gradients)
  Eigen::VectorXf c;      // (u, S) cell states c_t, in state blocks (recurrent.h)
  Eigen::VectorXf h;      // (u, S) hidden states h_t, in state blocks
  Eigen::VectorXf dh, dh_prev, dc, dc_prev, tanh_c;  // (u, B) backward scratch
  Eigen::VectorXf db;                                 // (4u) bias-gradient accumulator
  Eigen::VectorXf u_rows, w_rows;  // backward: transposed kernels U (u, 4u) and W (n, 4u)
  Eigen::VectorXf nt_scratch;      // backward: gemm_nt_acc workspace
  detail::MaskInfo mask;
  const float* x = nullptr;  // the forward input (caller keeps it alive until backward)
  Eigen::Index x_stride = 0;
  PackedLayout layout;
  bool ready = false;  // a forward's activations are waiting for backward
};

class Lstm final : public RecurrentLayer {
 public:
  Lstm(int input_dim, int units, bool return_sequences);

  std::string type_name() const override { return "LSTM"; }
  void declare(ParameterLayout& layout, const std::string& name) override;
  void init(std::span<float> params, std::mt19937_64& rng) const override;
  void forward_packed(const float* params, ConstMatrixRef x, const PackedLayout& layout,
                      const std::uint8_t* mask, MatrixRef y) override;
  // REQUIRES: exactly one backward() per forward(): it overwrites the cached gates with their
  // gradients (throws std::logic_error on a second call).
  void backward(const float* params, float* grads, ConstMatrixRef dy, MatrixRef dx) override;

  // Keras: 4 * (n + u + 1) * u.
  static std::int64_t parameter_count(int input_dim, int units) {
    return 4LL * (input_dim + units + 1) * units;
  }

 private:
  std::size_t kernel_ = 0, recurrent_kernel_ = 0, bias_ = 0;  // offsets into the flat buffer
  bool declared_ = false;
  LstmCache cache_;
};

}  // namespace rnn_dist::model
