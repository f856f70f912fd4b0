#include "trainer/model/simple_rnn.h"

#include "trainer/model/small_gemm.h"

namespace rnn_dist::model {

SimpleRnn::SimpleRnn(int input_dim, int units, bool return_sequences)
    : RecurrentLoop({"SimpleRNN", 1, 1, 1}, input_dim, units, return_sequences) {}

// h_t = tanh(z_t + U^T h_{t-1}); the gates block keeps the pre-activation (backward uses h_t).
void SimpleRnn::step_forward(const float* params, const ForwardStep& s) {
  const Index u = units_;
  if (s.t > 0)
    detail::gemm_nn(u, s.w, u, params + recurrent_kernel_, u, s.prev[0], u, s.z, u, true);
  MatrixMap(s.out[0], u, s.w).array() = MatrixMap(s.z, u, s.w).array().tanh();
}

// dz_t = dh_t (1 - h_t^2); dh_{t-1} = U dz_t is the loop's.
RecurrentLoop::BackwardResult SimpleRnn::step_backward(const BackwardStep& s) {
  const Index u = units_;
  const auto h = ConstMatrixMap(s.state[0], u, s.w).array();
  MatrixMap(s.z, u, s.w).array() = ConstMatrixMap(s.dstate[0], u, s.w).array() * (1.0f - h * h);
  return {s.z, false};
}

void SimpleRnn::finish_backward(float* grads, ConstMatrixMap prev_states) {
  add_recurrent_kernel_gradient(MatrixMap(grads + recurrent_kernel_, units_, units_),
                                ConstMatrixMap(gates(), units_, layout().columns()), prev_states);
}

}  // namespace rnn_dist::model
