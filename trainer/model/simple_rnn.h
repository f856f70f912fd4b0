// Keras SimpleRNN (tanh activation, zero initial state).
//
// Parameters (Keras shapes): <name>/kernel (n, u), <name>/recurrent_kernel (u, u), <name>/bias (u).
// Math, per step t (W^T = map(kernel) (u, n), U^T = map(recurrent_kernel) (u, u)):
//   h_t = tanh(W^T x_t + U^T h_{t-1} + b)      (h_{-1} = 0)
// State h; the time loop, masking and packing are RecurrentLoop's (recurrent_loop.h).
#pragma once

#include <cstdint>

#include "trainer/model/recurrent_loop.h"

namespace rnn_dist::model {

class SimpleRnn final : public RecurrentLoop {
 public:
  SimpleRnn(int input_dim, int units, bool return_sequences);

  // Keras: (n + u + 1) * u.
  static std::int64_t parameter_count(int input_dim, int units) {
    return std::int64_t(input_dim + units + 1) * units;
  }

 private:
  void step_forward(const float* params, const ForwardStep& s) override;
  BackwardResult step_backward(const BackwardStep& s) override;
  void finish_backward(float* grads, ConstMatrixMap prev_states) override;
};

}  // namespace rnn_dist::model
