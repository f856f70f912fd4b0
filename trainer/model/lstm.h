// Keras LSTM (unit_forget_bias, sigmoid recurrent activation, tanh activation, zero initial state).
//
// Parameters (Keras shapes; gate order i, f, c, o along the 4u axis):
//   <name>/kernel (n, 4u), <name>/recurrent_kernel (u, 4u), <name>/bias (4u).
// Math, per step t (W^T = map(kernel) (4u, n), U^T = map(recurrent_kernel) (4u, u)):
//   z = W^T x_t + U^T h_{t-1} + b;  i = sig(z_i), f = sig(z_f), g = tanh(z_c), o = sig(z_o)
//   c_t = f * c_{t-1} + i * g;      h_t = o * tanh(c_t)           (h_{-1} = c_{-1} = 0)
// States h and c; the time loop, masking and packing are RecurrentLoop's (recurrent_loop.h).
// The gates block of step t holds the activated [i f g o] between forward and backward.
#pragma once

#include <cstdint>

#include "trainer/model/recurrent_loop.h"

namespace rnn_dist::model {

class Lstm final : public RecurrentLoop {
 public:
  Lstm(int input_dim, int units, bool return_sequences);

  // Keras: 4 * (n + u + 1) * u.
  static std::int64_t parameter_count(int input_dim, int units) {
    return 4LL * (input_dim + units + 1) * units;
  }

 private:
  void initial_bias(std::span<float> bias) const override;
  void step_forward(const float* params, const ForwardStep& s) override;
  BackwardResult step_backward(const BackwardStep& s) override;
  void finish_backward(float* grads, ConstMatrixMap prev_states) override;

  Eigen::VectorXf tanh_c_;  // backward scratch: tanh(c_t) of one step, (u, B)
};

}  // namespace rnn_dist::model
