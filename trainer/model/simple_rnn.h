// Keras SimpleRNN (tanh activation, zero initial state).
//
// Parameters (Keras shapes): <name>/kernel (n, u), <name>/recurrent_kernel (u, u), <name>/bias (u).
// Math, per step t (W^T = map(kernel) (u, n), U^T = map(recurrent_kernel) (u, u)):
//   h_t = tanh(W^T x_t + U^T h_{t-1} + b)      (h_{-1} = 0)
// A masked step (mask == 0) carries h over unchanged; see recurrent.h.
#pragma once

#include <cstdint>
#include <string>

#include "trainer/model/recurrent.h"
#include "trainer/model/recurrent_util.h"

namespace rnn_dist::model {

// What SimpleRNN backward needs from forward. Buffers grow to the largest batch seen and are
// reused. P = layout.columns(), S = layout.state_columns() (T*B for the full layout).
struct SimpleRnnCache {
  Eigen::VectorXf z;   // (u, P): pre-activations W^T x + U^T h + b; backward overwrites with dZ
  Eigen::VectorXf h;   // (u, S) hidden states h_t, in state blocks (recurrent.h)
  Eigen::VectorXf dh, dh_prev;  // (u, B) backward scratch
  Eigen::VectorXf u_rows, w_rows;  // backward: transposed kernels U (u, u) and W (n, u)
  Eigen::VectorXf nt_scratch;      // backward: gemm_nt_acc workspace
  detail::MaskInfo mask;
  const float* x = nullptr;  // the forward input (caller keeps it alive until backward)
  Eigen::Index x_stride = 0;
  PackedLayout layout;
  bool ready = false;  // a forward's activations are waiting for backward
};

class SimpleRnn final : public RecurrentLayer {
 public:
  SimpleRnn(int input_dim, int units, bool return_sequences);

  std::string type_name() const override { return "SimpleRNN"; }
  void declare(ParameterLayout& layout, const std::string& name) override;
  void init(std::span<float> params, std::mt19937_64& rng) const override;
  void forward_packed(const float* params, ConstMatrixRef x, const PackedLayout& layout,
                      const std::uint8_t* mask, MatrixRef y) override;
  // REQUIRES: exactly one backward() per forward() (throws std::logic_error on a second call).
  void backward(const float* params, float* grads, ConstMatrixRef dy, MatrixRef dx) override;

  // Keras: (n + u + 1) * u.
  static std::int64_t parameter_count(int input_dim, int units) {
    return std::int64_t(input_dim + units + 1) * units;
  }

 private:
  std::size_t kernel_ = 0, recurrent_kernel_ = 0, bias_ = 0;  // offsets into the flat buffer
  bool declared_ = false;
  SimpleRnnCache cache_;
};

}  // namespace rnn_dist::model
