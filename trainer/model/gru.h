// Keras GRU, reset_after=True (the Keras 2/3 default, cuDNN-compatible; sigmoid recurrent
// activation, tanh activation, zero initial state).
//
// Parameters (Keras shapes; gate order z, r, h along the 3u axis):
//   <name>/kernel (n, 3u), <name>/recurrent_kernel (u, 3u),
//   <name>/bias (2, 3u): row 0 the input bias b_in, row 1 the recurrent bias b_rec.
// Math, per step t (W^T = map(kernel) (3u, n), U^T = map(recurrent_kernel) (3u, u)):
//   [xz xr xh] = W^T x_t + b_in;  [hz hr hh] = U^T h_{t-1} + b_rec
//   z = sig(xz + hz);  r = sig(xr + hr);  n = tanh(xh + r * hh);  h_t = z h_{t-1} + (1 - z) n
// State h; the time loop, masking and packing are RecurrentLoop's (recurrent_loop.h). The gates
// block of step t holds the activated [z r n] between forward and backward.
#pragma once

#include <cstdint>

#include "trainer/model/recurrent_loop.h"

namespace rnn_dist::model {

class Gru final : public RecurrentLoop {
 public:
  Gru(int input_dim, int units, bool return_sequences);

  // Keras (reset_after): 3 * (n*u + u*u + 2*u).
  static std::int64_t parameter_count(int input_dim, int units) {
    return 3LL * (std::int64_t(input_dim) * units + std::int64_t(units) * units + 2LL * units);
  }

 private:
  void begin_forward(Index P) override;
  void step_forward(const float* params, const ForwardStep& s) override;
  void skip_backward(const Step& s) override;
  void begin_backward() override;
  BackwardResult step_backward(const BackwardStep& s) override;
  void finish_backward(float* grads, ConstMatrixMap prev_states) override;
  void end_backward(float* grads) override;

  Eigen::VectorXf hh_;   // (u, P): (U^T h_{t-1} + b_rec)[h rows] per column; backward: dn' r
  Eigen::VectorXf rec_;  // (3u, B) backward: one step's gradient of U^T h_{t-1} + b_rec
  Eigen::VectorXf db_rec_;  // (3u) recurrent-bias gradient, summed step by step
};

}  // namespace rnn_dist::model
