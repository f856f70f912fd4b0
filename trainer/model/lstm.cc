#include "trainer/model/lstm.h"

#include <algorithm>

#include "trainer/model/small_gemm.h"

namespace rnn_dist::model {

using detail::block;
using detail::sigmoid;

Lstm::Lstm(int input_dim, int units, bool return_sequences)
    : RecurrentLoop({"LSTM", 4, 2, 1}, input_dim, units, return_sequences) {}

void Lstm::initial_bias(std::span<float> bias) const {
  std::fill(bias.begin() + units_, bias.begin() + 2 * units_, 1.0f);  // unit_forget_bias
}

// States: 0 = h, 1 = c.
void Lstm::step_forward(const float* params, const ForwardStep& s) {
  const Index u = units_, G = 4 * u, w = s.w;
  if (s.t > 0) detail::gemm_nn(G, w, u, params + recurrent_kernel_, G, s.prev[0], u, s.z, G, true);
  auto i = block(s.z, u, w, G), f = block(s.z + u, u, w, G), g = block(s.z + 2 * u, u, w, G),
       o = block(s.z + 3 * u, u, w, G);
  auto c = block(s.out[1], u, w, u), h = block(s.out[0], u, w, u);
  i = sigmoid(i);
  f = sigmoid(f);
  g = g.tanh();
  o = sigmoid(o);
  if (s.t > 0)
    c = f * block(s.prev[1], u, w, u) + i * g;
  else
    c = i * g;
  h = o * c.tanh();
}

namespace {

// One step of the LSTM backward pass for a (4u, B) block of activated gates z (overwritten with
// the pre-activation gradients dZ), given dh = dL/dh_t and dc = dL/dc_t from later steps:
//   dc_t = dc + dh o (1 - tanh^2 c_t);  dz_i = dc_t g i(1-i);  dz_f = dc_t c_{t-1} f(1-f)
//   dz_c = dc_t i (1 - g^2);            dz_o = dh tanh(c_t) o(1-o);  dc_{t-1} = dc_t f
void lstm_step_backward(float* __restrict z, const float* __restrict c_prev,
                        const float* __restrict tanh_c, const float* __restrict dh,
                        const float* __restrict dc, float* __restrict dc_prev, Eigen::Index u,
                        Eigen::Index B) {
  const Eigen::Index G = 4 * u;
  for (Eigen::Index b = 0; b < B; ++b) {
    float* zb = z + b * G;
    const Eigen::Index o = b * u;
    for (Eigen::Index r = 0; r < u; ++r) {
      const float i = zb[r], f = zb[u + r], g = zb[2 * u + r], og = zb[3 * u + r];
      const float tc = tanh_c[o + r], dhr = dh[o + r];
      const float cp = c_prev != nullptr ? c_prev[o + r] : 0.0f;
      const float dct = dc[o + r] + dhr * og * (1.0f - tc * tc);
      zb[r] = dct * g * i * (1.0f - i);
      zb[u + r] = dct * cp * f * (1.0f - f);
      zb[2 * u + r] = dct * i * (1.0f - g * g);
      zb[3 * u + r] = dhr * tc * og * (1.0f - og);
      dc_prev[o + r] = dct * f;
    }
  }
}

}  // namespace

// dc_{t-1} is the cell's; dh_{t-1} = U dz_t is all the loop's (dz is also the recurrent side).
RecurrentLoop::BackwardResult Lstm::step_backward(const BackwardStep& s) {
  const Index u = units_;
  float* tanh_c = detail::grow(tanh_c_, u * layout().B);
  MatrixMap(tanh_c, u, s.w).array() = ConstMatrixMap(s.state[1], u, s.w).array().tanh();
  lstm_step_backward(s.z, s.prev[1], tanh_c, s.dstate[0], s.dstate[1], s.dprev[1], u, s.w);
  return {s.z, false};
}

void Lstm::finish_backward(float* grads, ConstMatrixMap prev_states) {
  const Index G = gate_rows();
  add_recurrent_kernel_gradient(MatrixMap(grads + recurrent_kernel_, G, units_),
                                ConstMatrixMap(gates(), G, layout().columns()), prev_states);
}

}  // namespace rnn_dist::model
