#include "trainer/model/lstm.h"

#include <algorithm>

#include "trainer/model/small_gemm.h"

namespace rnn_dist::model {


Lstm::Lstm(int input_dim, int units, bool return_sequences)
    : RecurrentLoop({"LSTM", 4, 2, 1}, input_dim, units, return_sequences) {}

void Lstm::initial_bias(std::span<float> bias) const {
  std::fill(bias.begin() + units_, bias.begin() + 2 * units_, 1.0f);  // unit_forget_bias
}

namespace {

// One step's gate math for w columns of activated-to-be gates z (4u, w) in one pass per column:
//   i, f, o = sig(z), g = tanh(z) (written back for backward), c = f c_{t-1} + i g, h = o tanh(c).
// The expression form (one Eigen assignment per gate and state) went over the step's block six
// times. kFirst: t = 0, c_{t-1} = 0 and cp is not read.
template <bool kFirst>
void lstm_step_forward(float* z, const float* cp, float* c, float* h, Eigen::Index u,
                       Eigen::Index w) {
  using namespace Eigen::internal;
  using detail::kPacket;
  using detail::Packet;
  const Eigen::Index G = 4 * u, whole = u - u % kPacket;
  for (Eigen::Index b = 0; b < w; ++b) {
    float* zi = z + b * G;
    float* zf = zi + u;
    float* zg = zi + 2 * u;
    float* zo = zi + 3 * u;
    const Eigen::Index s = b * u;
    for (Eigen::Index r = 0; r < whole; r += kPacket) {
      const Packet i = detail::sigmoid_packet(ploadu<Packet>(zi + r));
      const Packet f = detail::sigmoid_packet(ploadu<Packet>(zf + r));
      const Packet g = detail::tanh_packet(ploadu<Packet>(zg + r));
      const Packet o = detail::sigmoid_packet(ploadu<Packet>(zo + r));
      pstoreu(zi + r, i);
      pstoreu(zf + r, f);
      pstoreu(zg + r, g);
      pstoreu(zo + r, o);
      const Packet ct = kFirst ? pmul(i, g) : padd(pmul(f, ploadu<Packet>(cp + s + r)), pmul(i, g));
      pstoreu(c + s + r, ct);
      pstoreu(h + s + r, pmul(o, detail::tanh_packet(ct)));
    }
    for (Eigen::Index r = whole; r < u; ++r) {
      const float i = detail::sigmoid_scalar(zi[r]), f = detail::sigmoid_scalar(zf[r]),
                  g = detail::tanh_scalar(zg[r]), o = detail::sigmoid_scalar(zo[r]);
      zi[r] = i;
      zf[r] = f;
      zg[r] = g;
      zo[r] = o;
      const float ct = kFirst ? i * g : f * cp[s + r] + i * g;
      c[s + r] = ct;
      h[s + r] = o * detail::tanh_scalar(ct);
    }
  }
}

}  // namespace

// States: 0 = h, 1 = c.
void Lstm::step_forward(const float* params, const ForwardStep& s) {
  const Index u = units_, G = 4 * u, w = s.w;
  if (s.t > 0) {
    detail::gemm_nn(G, w, u, params + recurrent_kernel_, G, s.prev[0], u, s.z, G, true);
    lstm_step_forward<false>(s.z, s.prev[1], s.out[1], s.out[0], u, w);
  } else {
    lstm_step_forward<true>(s.z, nullptr, s.out[1], s.out[0], u, w);
  }
}

namespace {

// One step of the LSTM backward pass for a (4u, B) block of activated gates z (overwritten with
// the pre-activation gradients dZ), given dh = dL/dh_t and dc = dL/dc_t from later steps:
//   dc_t = dc + dh o (1 - tanh^2 c_t);  dz_i = dc_t g i(1-i);  dz_f = dc_t c_{t-1} f(1-f)
//   dz_c = dc_t i (1 - g^2);            dz_o = dh tanh(c_t) o(1-o);  dc_{t-1} = dc_t f
// One column: restrict parameters (GCC ignores restrict on local pointers) and no test inside
// the row loop, so that it vectorises. kFirst: t = 0, where c_{t-1} = 0 and cp is not read.
template <bool kFirst>
void lstm_column_backward(float* __restrict zi, float* __restrict zf, float* __restrict zg,
                          float* __restrict zo, const float* __restrict cp,
                          const float* __restrict tc, const float* __restrict dh,
                          const float* __restrict dc, float* __restrict dcp, Eigen::Index u) {
  for (Eigen::Index r = 0; r < u; ++r) {
    const float i = zi[r], f = zf[r], g = zg[r], og = zo[r];
    const float dct = dc[r] + dh[r] * og * (1.0f - tc[r] * tc[r]);
    zi[r] = dct * g * i * (1.0f - i);
    zf[r] = kFirst ? 0.0f : dct * cp[r] * f * (1.0f - f);
    zg[r] = dct * i * (1.0f - g * g);
    zo[r] = dh[r] * tc[r] * og * (1.0f - og);
    dcp[r] = dct * f;
  }
}

template <bool kFirst>
void lstm_step_backward(float* z, const float* c_prev, const float* tanh_c, const float* dh,
                        const float* dc, float* dc_prev, Eigen::Index u, Eigen::Index B) {
  const Eigen::Index G = 4 * u;
  for (Eigen::Index b = 0; b < B; ++b) {
    float* zb = z + b * G;
    const Eigen::Index o = b * u;
    lstm_column_backward<kFirst>(zb, zb + u, zb + 2 * u, zb + 3 * u, kFirst ? nullptr : c_prev + o,
                                 tanh_c + o, dh + o, dc + o, dc_prev + o, u);
  }
}

}  // namespace

// dc_{t-1} is the cell's; dh_{t-1} = U dz_t is all the loop's (dz is also the recurrent side).
RecurrentLoop::BackwardResult Lstm::step_backward(const BackwardStep& s) {
  const Index u = units_;
  float* tanh_c = detail::grow(tanh_c_, u * layout().B);
  MatrixMap(tanh_c, u, s.w).array() = ConstMatrixMap(s.state[1], u, s.w).array().tanh();
  if (s.t == 0)
    lstm_step_backward<true>(s.z, nullptr, tanh_c, s.dstate[0], s.dstate[1], s.dprev[1], u, s.w);
  else
    lstm_step_backward<false>(s.z, s.prev[1], tanh_c, s.dstate[0], s.dstate[1], s.dprev[1], u, s.w);
  return {s.z, false};
}

void Lstm::finish_backward(float* grads, ConstMatrixMap prev_states) {
  const Index G = gate_rows();
  add_recurrent_kernel_gradient(MatrixMap(grads + recurrent_kernel_, G, units_),
                                ConstMatrixMap(gates(), G, layout().columns()), prev_states);
}

}  // namespace rnn_dist::model
