#include "trainer/model/gru_reset_before.h"

#include "trainer/model/small_gemm.h"

namespace rnn_dist::model {


GruResetBefore::GruResetBefore(int input_dim, int units, bool return_sequences)
    : RecurrentLoop({"GRU", 3, 1, 1}, input_dim, units, return_sequences) {}

void GruResetBefore::begin_forward(Index P) { detail::grow(rh_, units_ * P); }

namespace {

using detail::kPacket;
using detail::Packet;

// The two passes of one step's gate math around the candidate's recurrent product, each one pass
// per column (the expression form went over the step's block five times).
// Before: z, r = sig(.) written back, rh = r h_{t-1} (kFirst: t = 0, only z; r and rh are never
// read then).
template <bool kFirst>
void gates_before_product(float* zb, const float* hp, float* rh, Eigen::Index u, Eigen::Index w) {
  using namespace Eigen::internal;
  const Eigen::Index G = 3 * u, whole = u - u % kPacket;
  for (Eigen::Index b = 0; b < w; ++b) {
    float* zz = zb + b * G;
    float* zr = zz + u;
    const Eigen::Index s = b * u;
    for (Eigen::Index i = 0; i < whole; i += kPacket) {
      pstoreu(zz + i, detail::sigmoid_packet(ploadu<Packet>(zz + i)));
      if constexpr (!kFirst) {
        const Packet r = detail::sigmoid_packet(ploadu<Packet>(zr + i));
        pstoreu(zr + i, r);
        pstoreu(rh + s + i, pmul(r, ploadu<Packet>(hp + s + i)));
      }
    }
    for (Eigen::Index i = whole; i < u; ++i) {
      zz[i] = detail::sigmoid_scalar(zz[i]);
      if constexpr (!kFirst) {
        zr[i] = detail::sigmoid_scalar(zr[i]);
        rh[s + i] = zr[i] * hp[s + i];
      }
    }
  }
}

// After: n = tanh(.) written back, h = z h_{t-1} + (1 - z) n (kFirst: h = (1 - z) n).
template <bool kFirst>
void gates_after_product(float* zb, const float* hp, float* h, Eigen::Index u, Eigen::Index w) {
  using namespace Eigen::internal;
  const Eigen::Index G = 3 * u, whole = u - u % kPacket;
  const Packet one = pset1<Packet>(1.0f);
  for (Eigen::Index b = 0; b < w; ++b) {
    const float* zz = zb + b * G;
    float* zn = zb + b * G + 2 * u;
    const Eigen::Index s = b * u;
    for (Eigen::Index i = 0; i < whole; i += kPacket) {
      const Packet z = ploadu<Packet>(zz + i), n = detail::tanh_packet(ploadu<Packet>(zn + i));
      pstoreu(zn + i, n);
      const Packet keep = pmul(psub(one, z), n);
      pstoreu(h + s + i, kFirst ? keep : padd(pmul(z, ploadu<Packet>(hp + s + i)), keep));
    }
    for (Eigen::Index i = whole; i < u; ++i) {
      const float z = zz[i], n = detail::tanh_scalar(zn[i]);
      zn[i] = n;
      h[s + i] = kFirst ? (1.0f - z) * n : z * hp[s + i] + (1.0f - z) * n;
    }
  }
}

}  // namespace

// The gates block leaves with the activated [z r n]; rh_ keeps r h_{t-1}, the candidate's
// recurrent input, for the recurrent kernel's gradient.
void GruResetBefore::step_forward(const float* params, const ForwardStep& s) {
  const Index u = units_, G = 3 * u, w = s.w;
  const float* Ut = params + recurrent_kernel_;
  float* rh_t = rh_.data() + s.column * u;
  if (s.t == 0) {  // h_{-1} = 0: no recurrent products; r and rh_ do not matter (never read)
    gates_before_product<true>(s.z, nullptr, nullptr, u, w);
    gates_after_product<true>(s.z, nullptr, s.out[0], u, w);
    return;
  }
  detail::gemm_nn(2 * u, w, u, Ut, G, s.prev[0], u, s.z, G, true);
  gates_before_product<false>(s.z, s.prev[0], rh_t, u, w);
  detail::gemm_nn(u, w, u, Ut + 2 * u, G, rh_t, u, s.z + 2 * u, G, true);
  gates_after_product<false>(s.z, s.prev[0], s.out[0], u, w);
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
