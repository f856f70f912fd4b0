#include "trainer/model/gru.h"

#include "trainer/model/small_gemm.h"

namespace rnn_dist::model {

using detail::block;

Gru::Gru(int input_dim, int units, bool return_sequences)
    : RecurrentLoop({"GRU", 3, 1, 2}, input_dim, units, return_sequences) {}

void Gru::begin_forward(Index P) { detail::grow(hh_, units_ * P); }

namespace {

// One step's gate math for w columns in one pass per column (the expression form went over the
// step's block four times): z, r = sig(.), n = tanh(n + r hh), all three written back for
// backward, h = z h_{t-1} + (1 - z) n. kFirst: t = 0, h_{t-1} = 0 and hp is not read.
template <bool kFirst>
void gru_step_forward(float* zb, const float* hh, const float* hp, float* h, Eigen::Index u,
                      Eigen::Index w) {
  using namespace Eigen::internal;
  using detail::kPacket;
  using detail::Packet;
  const Eigen::Index G = 3 * u, whole = u - u % kPacket;
  const Packet one = pset1<Packet>(1.0f);
  for (Eigen::Index b = 0; b < w; ++b) {
    float* zz = zb + b * G;
    float* zr = zz + u;
    float* zn = zz + 2 * u;
    const Eigen::Index s = b * u;
    for (Eigen::Index i = 0; i < whole; i += kPacket) {
      const Packet z = detail::sigmoid_packet(ploadu<Packet>(zz + i));
      const Packet r = detail::sigmoid_packet(ploadu<Packet>(zr + i));
      const Packet n =
          detail::tanh_packet(padd(ploadu<Packet>(zn + i), pmul(r, ploadu<Packet>(hh + s + i))));
      pstoreu(zz + i, z);
      pstoreu(zr + i, r);
      pstoreu(zn + i, n);
      const Packet keep = pmul(psub(one, z), n);
      pstoreu(h + s + i, kFirst ? keep : padd(pmul(z, ploadu<Packet>(hp + s + i)), keep));
    }
    for (Eigen::Index i = whole; i < u; ++i) {
      const float z = detail::sigmoid_scalar(zz[i]), r = detail::sigmoid_scalar(zr[i]);
      const float n = detail::tanh_scalar(zn[i] + r * hh[s + i]);
      zz[i] = z;
      zr[i] = r;
      zn[i] = n;
      h[s + i] = kFirst ? (1.0f - z) * n : z * hp[s + i] + (1.0f - z) * n;
    }
  }
}

}  // namespace

// The recurrent product goes straight where it is used: its z and r rows (with their b_rec) into
// the gates block, on top of the input side; its h rows (with b_rec's) into hh_, which backward
// needs anyway.
void Gru::step_forward(const float* params, const ForwardStep& s) {
  const Index u = units_, G = 3 * u, w = s.w;
  const float* Ut = params + recurrent_kernel_;
  const float* b_rec = params + bias_ + G;
  float* hh_t = hh_.data() + s.column * u;
  if (s.t > 0) {
    detail::gemm_nn(2 * u, w, u, Ut, G, s.prev[0], u, s.z, G, true, b_rec);
    detail::gemm_nn(u, w, u, Ut + 2 * u, G, s.prev[0], u, hh_t, u, false, b_rec + 2 * u);
    gru_step_forward<false>(s.z, hh_t, s.prev[0], s.out[0], u, w);
  } else {
    block(s.z, 2 * u, w, G).colwise() += ConstVectorMap(b_rec, 2 * u).array();
    MatrixMap(hh_t, u, w).colwise() = ConstVectorMap(b_rec + 2 * u, u);
    gru_step_forward<true>(s.z, hh_t, nullptr, s.out[0], u, w);
  }
}

void Gru::skip_backward(const Step& s) {
  MatrixMap(hh_.data() + s.column * units_, units_, s.w).setZero();
}

void Gru::begin_backward() {
  detail::grow(rec_, gate_rows() * layout().B);
  VectorMap(detail::grow(db_rec_, gate_rows()), gate_rows()).setZero();
}

namespace {

// One step of the GRU backward pass. z holds the activated [z r n] (3u, B) of step t and is
// overwritten with the input-side pre-activation gradients [dz' dr' dn']; rec receives the
// recurrent-side ones [dz' dr' dn' r] (3u, B), hh (u, B) is overwritten with dn' r; dh_prev gets
// the direct term dh z. With dn' = dh (1 - z)(1 - n^2), dz' = dh (h_{t-1} - n) z(1-z),
// dr' = dn' hh r(1-r).
// One column (restrict parameters and no test in the row loop, so that it vectorises; kFirst:
// t = 0, h_{t-1} = 0 and hp is not read). zb, rb: the column's [z r n] rows of z and rec.
template <bool kFirst>
void gru_column_backward(float* __restrict zz, float* __restrict zr, float* __restrict zn,
                         float* __restrict rz, float* __restrict rr, float* __restrict rn,
                         float* __restrict hh, const float* __restrict hp,
                         const float* __restrict dh, float* __restrict dhp, Eigen::Index u) {
  for (Eigen::Index i = 0; i < u; ++i) {
    const float zg = zz[i], rg = zr[i], ng = zn[i], hhv = hh[i];
    const float dhv = dh[i];
    const float dn = dhv * (1.0f - zg) * (1.0f - ng * ng);
    const float dz = dhv * ((kFirst ? 0.0f : hp[i]) - ng) * zg * (1.0f - zg);
    const float dr = dn * hhv * rg * (1.0f - rg);
    zz[i] = dz;
    zr[i] = dr;
    zn[i] = dn;
    rz[i] = dz;
    rr[i] = dr;
    rn[i] = dn * rg;
    hh[i] = dn * rg;
    dhp[i] = dhv * zg;
  }
}

template <bool kFirst>
void gru_step_backward(float* z, float* rec, float* hh, const float* h_prev, const float* dh,
                       float* dh_prev, Eigen::Index u, Eigen::Index B) {
  const Eigen::Index G = 3 * u;
  for (Eigen::Index b = 0; b < B; ++b) {
    float* zb = z + b * G;
    float* rb = rec + b * G;
    const Eigen::Index o = b * u;
    gru_column_backward<kFirst>(zb, zb + u, zb + 2 * u, rb, rb + u, rb + 2 * u, hh + o,
                                kFirst ? nullptr : h_prev + o, dh + o, dh_prev + o, u);
  }
}

}  // namespace

// The recurrent side differs from the input side in its h rows (dn' r): it goes to the loop's
// product from rec_, after the direct term dh z the cell wrote into dh_{t-1}.
RecurrentLoop::BackwardResult Gru::step_backward(const BackwardStep& s) {
  const Index u = units_, G = 3 * u;
  const int B = layout().B;
  float* R = rec_.data();
  float* hh = hh_.data() + s.column * u;
  if (s.t == 0)
    gru_step_backward<true>(s.z, R, hh, nullptr, s.dstate[0], s.dprev[0], u, s.w);
  else
    gru_step_backward<false>(s.z, R, hh, s.prev[0], s.dstate[0], s.dprev[0], u, s.w);
  if (s.mask != nullptr) {
    detail::copy_masked_columns(s.mask, B, G, nullptr, G, R, G);
    detail::copy_masked_columns(s.mask, B, u, nullptr, u, hh, u);
  }
  detail::add_row_sums(R, G, s.w, db_rec_.data());
  return {R, true};
}

// The recurrent kernel's z and r rows pair with dZ's, its h rows with dn' r (kept in hh_).
void Gru::finish_backward(float* grads, ConstMatrixMap prev_states) {
  const Index u = units_, G = 3 * u, P = layout().columns();
  MatrixMap dUt(grads + recurrent_kernel_, G, u);
  add_recurrent_kernel_gradient(dUt.topRows(2 * u), ConstMatrixMap(gates(), G, P).topRows(2 * u),
                                prev_states);
  add_recurrent_kernel_gradient(dUt.bottomRows(u), ConstMatrixMap(hh_.data(), u, P), prev_states);
}

void Gru::end_backward(float* grads) {
  const Index G = gate_rows();
  VectorMap(grads + bias_ + G, G) += VectorMap(db_rec_.data(), G);
}

}  // namespace rnn_dist::model
