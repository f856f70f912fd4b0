// Keras GRU, reset_after=False (Keras 1 and TensorFlow 1's default, and the only GRU that
// TensorFlow.js Layers runs; sigmoid recurrent activation, tanh activation, zero initial state).
// `--layers gru:32:reset_after=false`; gru.h is the reset_after=True default.
//
// Parameters (Keras shapes; gate order z, r, h along the 3u axis):
//   <name>/kernel (n, 3u), <name>/recurrent_kernel (u, 3u), <name>/bias (3u).
// Math, per step t (W^T = map(kernel) (3u, n), U^T = map(recurrent_kernel) (3u, u)):
//   [xz xr xh] = W^T x_t + b
//   z = sig(xz + U_z^T h_{t-1});  r = sig(xr + U_r^T h_{t-1})
//   n = tanh(xh + U_h^T (r * h_{t-1}));  h_t = z h_{t-1} + (1 - z) n
// The reset gate acts before the recurrent product of the candidate (ONNX linear_before_reset=0),
// so a step makes two dependent products, U_zr^T h_{t-1} then U_h^T (r h_{t-1}); the FLOPs are
// those of reset_after. State h; the time loop, masking and packing are RecurrentLoop's.
#pragma once

#include <cstdint>

#include "trainer/model/recurrent_loop.h"

namespace rnn_dist::model {

class GruResetBefore final : public RecurrentLoop {
 public:
  GruResetBefore(int input_dim, int units, bool return_sequences);

  // Keras (reset_after=False): 3 * (n*u + u*u + u).
  static std::int64_t parameter_count(int input_dim, int units) {
    return 3LL * (std::int64_t(input_dim) * units + std::int64_t(units) * units + units);
  }

 private:
  void begin_forward(Index P) override;
  void step_forward(const float* params, const ForwardStep& s) override;
  void skip_backward(const Step& s) override;
  void begin_backward() override;
  BackwardResult step_backward(const BackwardStep& s) override;
  void finish_backward(float* grads, ConstMatrixMap prev_states) override;

  Eigen::VectorXf rh_;   // (u, P): r * h_{t-1} per column of steps >= 1 (zero at padding steps)
  Eigen::VectorXf drh_;  // (u, B) backward: one step's gradient of r * h_{t-1}
};

}  // namespace rnn_dist::model
