#include "trainer/model/gru_reset_before.h"

#include "trainer/model/small_gemm.h"

namespace rnn_dist::model {

using detail::block;
using detail::sigmoid;

GruResetBefore::GruResetBefore(int input_dim, int units, bool return_sequences)
    : RecurrentLoop({"GRU", 3, 1, 1}, input_dim, units, return_sequences) {}

void GruResetBefore::begin_forward(Index P) { detail::grow(rh_, units_ * P); }

// The gates block leaves with the activated [z r n]; rh_ keeps r h_{t-1}, the candidate's
// recurrent input, for the recurrent kernel's gradient.
void GruResetBefore::step_forward(const float* params, const ForwardStep& s) {
  const Index u = units_, G = 3 * u, w = s.w;
  const float* Ut = params + recurrent_kernel_;
  float* rh_t = rh_.data() + s.column * u;
  auto z = block(s.z, u, w, G), r = block(s.z + u, u, w, G), cand = block(s.z + 2 * u, u, w, G);
  auto h = block(s.out[0], u, w, u);
  if (s.t == 0) {  // h_{-1} = 0: no recurrent products; r and rh_ do not matter (never read)
    z = sigmoid(z);
    cand = cand.tanh();
    h = (1.0f - z) * cand;
    return;
  }
  detail::gemm_nn(2 * u, w, u, Ut, G, s.prev[0], u, s.z, G, true);
  z = sigmoid(z);
  r = sigmoid(r);
  const auto hp = block(s.prev[0], u, w, u);
  block(rh_t, u, w, u) = r * hp;
  detail::gemm_nn(u, w, u, Ut + 2 * u, G, rh_t, u, s.z + 2 * u, G, true);
  cand = cand.tanh();
  h = z * hp + (1.0f - z) * cand;
}

void GruResetBefore::skip_backward(const Step& s) {
  MatrixMap(rh_.data() + s.column * units_, units_, s.w).setZero();
}

void GruResetBefore::begin_backward() { detail::grow(drh_, units_ * layout().B); }

namespace {

// The two passes of one column of step t's backward (restrict parameters and no test in the
// row loops, so that they vectorise). zz, zr, zn: the column's activated z, r, n rows of the
// gates block, overwritten with dz' = dh (h_{t-1} - n) z(1-z), dr' and dn' = dh (1-z)(1-n^2).
// First pass: dz', dn' and the direct term dh_{t-1} = dh z (kFirst: t = 0, h_{t-1} = 0, hp and
// dhp are not used and dr' = 0).
template <bool kFirst>
void column_before_product(float* __restrict zz, float* __restrict zr, float* __restrict zn,
                           const float* __restrict hp, const float* __restrict dh,
                           float* __restrict dhp, Eigen::Index u) {
  for (Eigen::Index i = 0; i < u; ++i) {
    const float zg = zz[i], ng = zn[i], dhv = dh[i];
    zn[i] = dhv * (1.0f - zg) * (1.0f - ng * ng);
    zz[i] = dhv * ((kFirst ? 0.0f : hp[i]) - ng) * zg * (1.0f - zg);
    if constexpr (kFirst)
      zr[i] = 0.0f;
    else
      dhp[i] = dhv * zg;
  }
}

// Second pass, t >= 1, once drh = U_h dn' is known: dr' = drh h_{t-1} r(1-r), and the path
// through r h_{t-1}, drh r, into dh_{t-1}.
void column_after_product(float* __restrict zr, const float* __restrict hp,
                          const float* __restrict drh, float* __restrict dhp, Eigen::Index u) {
  for (Eigen::Index i = 0; i < u; ++i) {
    const float rg = zr[i];
    zr[i] = drh[i] * hp[i] * rg * (1.0f - rg);
    dhp[i] += drh[i] * rg;
  }
}

}  // namespace

// dh_{t-1} = dh z + (U_h dn') r + U_zr [dz' dr']: the cell writes the first two terms, the loop's
// product adds the third from the z and r rows of dZ (they are also the recurrent side's).
RecurrentLoop::BackwardResult GruResetBefore::step_backward(const BackwardStep& s) {
  const Index u = units_, G = 3 * u;
  const float* dh = s.dstate[0];
  float* dhp = s.dprev[0];
  if (s.t == 0) {
    for (Index b = 0; b < s.w; ++b) {
      float* zb = s.z + b * G;
      column_before_product<true>(zb, zb + u, zb + 2 * u, nullptr, dh + b * u, nullptr, u);
    }
    return {s.z, true, 2 * u};
  }
  for (Index b = 0; b < s.w; ++b) {
    float* zb = s.z + b * G;
    column_before_product<false>(zb, zb + u, zb + 2 * u, s.prev[0] + b * u, dh + b * u,
                                 dhp + b * u, u);
  }
  float* drh = drh_.data();
  detail::gemm_nn(u, s.w, u, recurrent_rows() + 2 * u * u, u, s.z + 2 * u, G, drh, u, false);
  for (Index b = 0; b < s.w; ++b)
    column_after_product(s.z + b * G + u, s.prev[0] + b * u, drh + b * u, dhp + b * u, u);
  return {s.z, true, 2 * u};
}

// The recurrent kernel's z and r rows pair with h_{t-1}, its h rows with r h_{t-1} (rh_).
void GruResetBefore::finish_backward(float* grads, ConstMatrixMap prev_states) {
  const Index u = units_, G = 3 * u, P = layout().columns(), R = prev_states.cols();
  MatrixMap dUt(grads + recurrent_kernel_, G, u);
  const ConstMatrixMap dZ(gates(), G, P);
  add_recurrent_kernel_gradient(dUt.topRows(2 * u), dZ.topRows(2 * u), prev_states);
  add_recurrent_kernel_gradient(dUt.bottomRows(u), dZ.bottomRows(u),
                                ConstMatrixMap(rh_.data() + (P - R) * u, u, R));
}

}  // namespace rnn_dist::model
