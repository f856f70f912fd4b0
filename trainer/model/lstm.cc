#include "trainer/model/lstm.h"

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

Lstm::Lstm(int input_dim, int units, bool return_sequences)
    : RecurrentLayer(input_dim, units, return_sequences) {
  if (input_dim < 1 || units < 1) throw std::invalid_argument("LSTM: input_dim and units must be >= 1");
}

void Lstm::declare(ParameterLayout& layout, const std::string& name) {
  const std::int64_t n = input_dim_, u = units_;
  kernel_ = layout.add(name + "/kernel", {n, 4 * u});
  recurrent_kernel_ = layout.add(name + "/recurrent_kernel", {u, 4 * u});
  bias_ = layout.add(name + "/bias", {4 * u});
  declared_ = true;
}

void Lstm::init(std::span<float> params, std::mt19937_64& rng) const {
  if (!declared_) throw std::logic_error("LSTM::init before declare");
  const std::size_t n = input_dim_, u = units_;
  glorot_uniform(params.subspan(kernel_, n * 4 * u), input_dim_, 4 * units_, rng);
  orthogonal(params.subspan(recurrent_kernel_, u * 4 * u), units_, 4 * units_, rng);
  auto bias = params.subspan(bias_, 4 * u);
  std::fill(bias.begin(), bias.end(), 0.0f);
  std::fill(bias.begin() + u, bias.begin() + 2 * u, 1.0f);  // unit_forget_bias
}

// x (n, P), mask (P) or null, y (u, P) or (u, B), for P = layout.columns().
void Lstm::forward_packed(const float* params, ConstMatrixRef x, const PackedLayout& layout,
                          const std::uint8_t* mask, MatrixRef y) {
  detail::check_shapes("LSTM", x, input_dim_, layout, mask, y, units_, return_sequences_);
  const int T = layout.T, B = layout.B;
  const Index n = input_dim_, u = units_, G = 4 * u, P = layout.columns();
  const Index S = layout.state_columns();
  LstmCache& k = cache_;
  k.layout = layout;  // reuses the vectors' capacity
  k.mask.set(mask, T, B);
  k.x = x.data();
  k.x_stride = x.outerStride();
  MatrixMap Z(detail::grow(k.gates, G * P), G, P);
  float* C = detail::grow(k.c, u * S);
  float* H = detail::grow(k.h, u * S);
  ConstMatrixMap Wt(params + kernel_, G, n);
  ConstMatrixMap Ut(params + recurrent_kernel_, G, u);
  ConstVectorMap b(params + bias_, G);

  // Input projection of all steps at once: Z = W^T x + b.
  detail::gemm_nn(G, P, n, Wt.data(), G, x.data(), x.outerStride(), Z.data(), G, false, b.data());

  for (int t = 0; t < T; ++t) {
    const int w = layout.width[t];
    const StepMask sm = k.mask.step(t);
    // The previous state is step t-1's state block: exactly w columns (see recurrent.h).
    const float* h_prev = t > 0 ? H + layout.state_offset(t - 1) * u : nullptr;
    const float* c_prev = t > 0 ? C + layout.state_offset(t - 1) * u : nullptr;
    float* ht = H + layout.state_offset(t) * u;
    float* ct = C + layout.state_offset(t) * u;
    if (sm == StepMask::kAll) {  // every example is padding here: carry the state over
      detail::carry_state_over(ht, h_prev, u, w);
      detail::carry_state_over(ct, c_prev, u, w);
      continue;  // masks come with the full layout: no new columns to start
    }
    float* zt = Z.data() + layout.offset[t] * G;
    if (t > 0) detail::gemm_nn(G, w, u, Ut.data(), G, h_prev, u, zt, G, true);
    auto i = block(zt, u, w, G), f = block(zt + u, u, w, G), g = block(zt + 2 * u, u, w, G),
         o = block(zt + 3 * u, u, w, G);
    auto c = block(ct, u, w, u), h = block(ht, u, w, u);
    i = sigmoid(i);
    f = sigmoid(f);
    g = g.tanh();
    o = sigmoid(o);
    if (t > 0)
      c = f * block(c_prev, u, w, u) + i * g;
    else
      c = i * g;
    h = o * c.tanh();
    if (sm == StepMask::kSome) {
      const std::uint8_t* m = k.mask.step_mask(t, B);
      detail::copy_masked_columns(m, B, u, h_prev, u, ht, u);
      detail::copy_masked_columns(m, B, u, c_prev, u, ct, u);
    }
    detail::carry_last_column(ht, u, w, layout.width[t + 1]);
    detail::carry_last_column(ct, u, w, layout.width[t + 1]);
  }
  if (return_sequences_)
    detail::copy_output_sequence(layout, H, u, y);
  else
    y = ConstMatrixMap(H + layout.state_offset(T - 1) * u, u, B);
  k.ready = true;
}

namespace {

// One step of the LSTM backward pass for a (4u, B) block of activated gates z (overwritten with
// the pre-activation gradients dZ), given dh = dL/dh_t and dc = dL/dc_t from later steps:
//   dc_t = dc + dh o (1 - tanh^2 c_t);  dz_i = dc_t g i(1-i);  dz_f = dc_t c_{t-1} f(1-f)
//   dz_c = dc_t i (1 - g^2);            dz_o = dh tanh(c_t) o(1-o);  dc_{t-1} = dc_t f
void lstm_step_backward(float* __restrict z, const float* __restrict c_prev,
                        const float* __restrict tanh_c, const float* __restrict dh,
                        const float* __restrict dc, float* __restrict dc_prev, Index u, Index B) {
  const Index G = 4 * u;
  for (Index b = 0; b < B; ++b) {
    float* zb = z + b * G;
    const Index o = b * u;
    for (Index r = 0; r < u; ++r) {
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

// dy (u, P) or (u, B); dx (n, P) or empty.
void Lstm::backward(const float* params, float* grads, ConstMatrixRef dy, MatrixRef dx) {
  LstmCache& k = cache_;
  const PackedLayout& L = k.layout;
  const int T = L.T, B = L.B;
  const Index n = input_dim_, u = units_, G = 4 * u, P = L.columns();
  detail::check_backward("LSTM", k.ready, dy, units_, return_sequences_ ? P : B, dx, input_dim_, P);
  k.ready = false;
  MatrixMap Z(k.gates.data(), G, P);
  const float* C = k.c.data();
  const float* H = k.h.data();
  ConstMatrixMap Wt(params + kernel_, G, n);
  ConstMatrixMap Ut(params + recurrent_kernel_, G, u);
  // dh = dL/dh_t, dc = dL/dc_t (from later steps and the output); *_prev the same for t-1.
  float* dh = detail::grow(k.dh, u * B);
  float* dh_prev = detail::grow(k.dh_prev, u * B);
  float* dc = detail::grow(k.dc, u * B);
  float* dc_prev = detail::grow(k.dc_prev, u * B);
  float* tanh_c = detail::grow(k.tanh_c, u * B);
  float* U = detail::grow(k.u_rows, u * G);  // (u, 4u) = (U^T)^T, for dh_{t-1} = U dz_t
  detail::transpose_into(Ut.data(), G, u, U);
  VectorMap db(detail::grow(k.db, G), G);
  db.setZero();

  detail::start_state_gradient(return_sequences_, dy, dh, u, B);
  MatrixMap(dc, u, B).setZero();
  for (int t = T - 1; t >= 0; --t) {
    const int w = L.width[t];
    // dh, dc: the gradients of step t's state block, gathered down to its w columns.
    detail::gather_step_gradient(L, t, return_sequences_, dy, dh, u);
    detail::fold_into_last_column(dc, u, w, L.width[t + 1]);
    float* zt = Z.data() + L.offset[t] * G;
    const StepMask sm = k.mask.step(t);
    if (sm == StepMask::kAll) {  // padding everywhere: gradients pass to step t-1 unchanged
      MatrixMap(zt, G, w).setZero();
      continue;
    }
    const float* c_prev = t > 0 ? C + L.state_offset(t - 1) * u : nullptr;
    MatrixMap(tanh_c, u, w).array() = ConstMatrixMap(C + L.state_offset(t) * u, u, w).array().tanh();
    lstm_step_backward(zt, c_prev, tanh_c, dh, dc, dc_prev, u, w);
    const std::uint8_t* m = sm == StepMask::kSome ? k.mask.step_mask(t, B) : nullptr;
    if (m != nullptr) {
      detail::copy_masked_columns(m, B, G, nullptr, G, zt, G);
      detail::copy_masked_columns(m, B, u, dc, u, dc_prev, u);
    }
    detail::add_row_sums(zt, G, w, db.data());
    if (t > 0) {
      detail::gemm_nn(u, w, G, U, u, zt, G, dh_prev, u, false);
      if (m != nullptr) detail::copy_masked_columns(m, B, u, dh, u, dh_prev, u);
    }
    // Now dh, dc are the gradients w.r.t. step t-1's state block (w columns).
    std::swap(dh, dh_prev);
    std::swap(dc, dc_prev);
  }

  // Weight gradients over all steps at once (Z now holds dZ; masked columns are zero). Step t's
  // gates pair with step t-1's state block, which has the same width: one product for t >= 1.
  detail::ConstStridedMatrix X(k.x, n, P, Eigen::OuterStride<>(k.x_stride));
  MatrixMap dWt(grads + kernel_, G, n), dUt(grads + recurrent_kernel_, G, u);
  VectorMap dbias(grads + bias_, G);
  detail::gemm_nt_acc(dWt, Z, X, k.nt_scratch);
  const Index w0 = L.width[0];
  if (P > w0) detail::gemm_nt_acc(dUt, Z.rightCols(P - w0), ConstMatrixMap(H, u, P - w0), k.nt_scratch);
  dbias += db;
  if (dx.size() != 0) detail::input_gradient(Wt.data(), G, n, Z.data(), P, k.w_rows, dx);
}

}  // namespace rnn_dist::model
