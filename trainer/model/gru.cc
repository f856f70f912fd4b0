#include "trainer/model/gru.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "trainer/model/init.h"
#include "trainer/model/small_gemm.h"

namespace rnn_dist::model {

using detail::block;
using detail::Index;
using detail::sigmoid;
using detail::StepMask;

Gru::Gru(int input_dim, int units, bool return_sequences)
    : RecurrentLayer(input_dim, units, return_sequences) {
  if (input_dim < 1 || units < 1) throw std::invalid_argument("GRU: input_dim and units must be >= 1");
}

void Gru::declare(ParameterLayout& layout, const std::string& name) {
  const std::int64_t n = input_dim_, u = units_;
  kernel_ = layout.add(name + "/kernel", {n, 3 * u});
  recurrent_kernel_ = layout.add(name + "/recurrent_kernel", {u, 3 * u});
  bias_ = layout.add(name + "/bias", {2, 3 * u});
  declared_ = true;
}

void Gru::init(std::span<float> params, std::mt19937_64& rng) const {
  if (!declared_) throw std::logic_error("GRU::init before declare");
  const std::size_t n = input_dim_, u = units_;
  glorot_uniform(params.subspan(kernel_, n * 3 * u), input_dim_, 3 * units_, rng);
  orthogonal(params.subspan(recurrent_kernel_, u * 3 * u), units_, 3 * units_, rng);
  auto bias = params.subspan(bias_, 2 * 3 * u);
  std::fill(bias.begin(), bias.end(), 0.0f);
}

// x (n, P), mask (P) or null, y (u, P) or (u, B), for P = layout.columns().
void Gru::forward_packed(const float* params, ConstMatrixRef x, const PackedLayout& layout,
                         const std::uint8_t* mask, MatrixRef y) {
  detail::check_shapes("GRU", x, input_dim_, layout, mask, y, units_, return_sequences_);
  const int T = layout.T, B = layout.B;
  const Index n = input_dim_, u = units_, G = 3 * u, P = layout.columns();
  const Index S = layout.state_columns();
  GruCache& k = cache_;
  k.layout = layout;  // reuses the vectors' capacity
  k.mask.set(mask, T, B);
  k.x = x.data();
  k.x_stride = x.outerStride();
  MatrixMap Z(detail::grow(k.gates, G * P), G, P);
  MatrixMap HH(detail::grow(k.hh, u * P), u, P);
  float* H = detail::grow(k.h, u * S);
  MatrixMap R(detail::grow(k.rec, G * B), G, B);
  ConstMatrixMap Wt(params + kernel_, G, n);
  ConstMatrixMap Ut(params + recurrent_kernel_, G, u);
  ConstVectorMap b_in(params + bias_, G), b_rec(params + bias_ + G, G);

  // Input projection of all steps at once: W^T x + b_in.
  detail::gemm_nn(G, P, n, Wt.data(), G, x.data(), x.outerStride(), Z.data(), G, false,
                  b_in.data());
  for (int t = 0; t < T; ++t) {
    const int w = layout.width[t];
    const StepMask sm = k.mask.step(t);
    // The previous state is step t-1's state block: exactly w columns (see recurrent.h).
    const float* h_prev = t > 0 ? H + layout.state_offset(t - 1) * u : nullptr;
    float* ht = H + layout.state_offset(t) * u;
    if (sm == StepMask::kAll) {  // every example is padding here: carry the state over
      detail::carry_state_over(ht, h_prev, u, w);
      continue;  // masks come with the full layout: no new columns to start
    }
    if (t > 0)
      detail::gemm_nn(G, w, u, Ut.data(), G, h_prev, u, R.data(), G, false, b_rec.data());
    else
      R.leftCols(w).colwise() = b_rec;
    float* zt = Z.data() + layout.offset[t] * G;
    auto z = block(zt, u, w, G), r = block(zt + u, u, w, G), cand = block(zt + 2 * u, u, w, G);
    auto hh = block(HH.data() + layout.offset[t] * u, u, w, u), h = block(ht, u, w, u);
    z = sigmoid(z + block(R.data(), u, w, G));
    r = sigmoid(r + block(R.data() + u, u, w, G));
    hh = block(R.data() + 2 * u, u, w, G);
    cand = (cand + r * hh).tanh();
    if (t > 0)
      h = z * block(h_prev, u, w, u) + (1.0f - z) * cand;
    else
      h = (1.0f - z) * cand;
    if (sm == StepMask::kSome)
      detail::copy_masked_columns(k.mask.step_mask(t, B), B, u, h_prev, u, ht, u);
    detail::carry_last_column(ht, u, w, layout.width[t + 1]);
  }
  if (return_sequences_)
    detail::copy_output_sequence(layout, H, u, y);
  else
    y = ConstMatrixMap(H + layout.state_offset(T - 1) * u, u, B);
  k.ready = true;
}

namespace {

// One step of the GRU backward pass. z holds the activated [z r n] (3u, B) of step t and is
// overwritten with the input-side pre-activation gradients [dz' dr' dn']; rec receives the
// recurrent-side ones [dz' dr' dn' r] (3u, B), hh (u, B) is overwritten with dn' r; dh_prev gets
// the direct term dh z. With dn' = dh (1 - z)(1 - n^2), dz' = dh (h_{t-1} - n) z(1-z),
// dr' = dn' hh r(1-r).
void gru_step_backward(float* __restrict z, float* __restrict rec, float* __restrict hh,
                       const float* __restrict h_prev, const float* __restrict dh,
                       float* __restrict dh_prev, Index u, Index B) {
  const Index G = 3 * u;
  for (Index b = 0; b < B; ++b) {
    float* zb = z + b * G;
    float* rb = rec + b * G;
    const Index o = b * u;
    for (Index i = 0; i < u; ++i) {
      const float zg = zb[i], rg = zb[u + i], ng = zb[2 * u + i], hhv = hh[o + i];
      const float hp = h_prev != nullptr ? h_prev[o + i] : 0.0f;
      const float dhv = dh[o + i];
      const float dn = dhv * (1.0f - zg) * (1.0f - ng * ng);
      const float dz = dhv * (hp - ng) * zg * (1.0f - zg);
      const float dr = dn * hhv * rg * (1.0f - rg);
      zb[i] = dz;
      zb[u + i] = dr;
      zb[2 * u + i] = dn;
      rb[i] = dz;
      rb[u + i] = dr;
      rb[2 * u + i] = dn * rg;
      hh[o + i] = dn * rg;
      dh_prev[o + i] = dhv * zg;
    }
  }
}

}  // namespace

// dy (u, P) or (u, B); dx (n, P) or empty.
void Gru::backward(const float* params, float* grads, ConstMatrixRef dy, MatrixRef dx) {
  GruCache& k = cache_;
  const PackedLayout& L = k.layout;
  const int T = L.T, B = L.B;
  const Index n = input_dim_, u = units_, G = 3 * u, P = L.columns();
  detail::check_backward("GRU", k.ready, dy, units_, return_sequences_ ? P : B, dx, input_dim_, P);
  k.ready = false;
  MatrixMap Z(k.gates.data(), G, P);
  MatrixMap HH(k.hh.data(), u, P);
  const float* H = k.h.data();
  MatrixMap R(k.rec.data(), G, B);
  ConstMatrixMap Wt(params + kernel_, G, n);
  ConstMatrixMap Ut(params + recurrent_kernel_, G, u);
  float* dh = detail::grow(k.dh, u * B);
  float* dh_prev = detail::grow(k.dh_prev, u * B);
  float* U = detail::grow(k.u_rows, u * G);  // (u, 3u) = (U^T)^T, for dh_{t-1} += U drec_t
  detail::transpose_into(Ut.data(), G, u, U);
  VectorMap db_rec(detail::grow(k.db_rec, G), G);
  db_rec.setZero();

  detail::start_state_gradient(return_sequences_, dy, dh, u, B);
  for (int t = T - 1; t >= 0; --t) {
    const int w = L.width[t];
    // dh: the gradient of step t's state block, gathered down to its w columns.
    detail::gather_step_gradient(L, t, return_sequences_, dy, dh, u);
    float* zt = Z.data() + L.offset[t] * G;
    float* hht = HH.data() + L.offset[t] * u;
    const StepMask sm = k.mask.step(t);
    if (sm == StepMask::kAll) {  // padding everywhere: dh passes to step t-1 unchanged
      MatrixMap(zt, G, w).setZero();
      MatrixMap(hht, u, w).setZero();
      continue;
    }
    const float* h_prev = t > 0 ? H + L.state_offset(t - 1) * u : nullptr;
    gru_step_backward(zt, R.data(), hht, h_prev, dh, dh_prev, u, w);
    const std::uint8_t* m = sm == StepMask::kSome ? k.mask.step_mask(t, B) : nullptr;
    if (m != nullptr) {
      detail::copy_masked_columns(m, B, G, nullptr, G, zt, G);
      detail::copy_masked_columns(m, B, G, nullptr, G, R.data(), G);
      detail::copy_masked_columns(m, B, u, nullptr, u, hht, u);
      detail::copy_masked_columns(m, B, u, dh, u, dh_prev, u);
    }
    detail::add_row_sums(R.data(), G, w, db_rec.data());
    if (t > 0) detail::gemm_nn(u, w, G, U, u, R.data(), G, dh_prev, u, true);
    std::swap(dh, dh_prev);  // now the gradient of step t-1's state block (w columns)
  }

  // Weight gradients over all steps at once. Z holds the input-side gradients [dz' dr' dn'], the
  // recurrent side is [dz' dr' dn' r] with dn' r in HH; masked columns are zero. Step t pairs
  // with step t-1's state block, which has the same width: one product for t >= 1.
  detail::ConstStridedMatrix X(k.x, n, P, Eigen::OuterStride<>(k.x_stride));
  MatrixMap dWt(grads + kernel_, G, n), dUt(grads + recurrent_kernel_, G, u);
  VectorMap db_in(grads + bias_, G), db_r(grads + bias_ + G, G);
  detail::gemm_nt_acc(dWt, Z, X, k.nt_scratch);
  const Index w0 = L.width[0];
  if (P > w0) {
    ConstMatrixMap Hprev(H, u, P - w0);
    detail::gemm_nt_acc(dUt.topRows(2 * u), Z.topRows(2 * u).rightCols(P - w0), Hprev, k.nt_scratch);
    detail::gemm_nt_acc(dUt.bottomRows(u), HH.rightCols(P - w0), Hprev, k.nt_scratch);
  }
  // (A plain loop, not Eigen's rowwise().sum(), whose bits depend on the buffer's alignment:
  // a micro-batch must give the same gradient wherever it is computed.)
  detail::add_row_sums(Z.data(), G, P, db_in.data());
  db_r += db_rec;
  if (dx.size() != 0) detail::input_gradient(Wt.data(), G, n, Z.data(), P, k.w_rows, dx);
}

}  // namespace rnn_dist::model
