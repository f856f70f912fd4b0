#include "trainer/model/simple_rnn.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "trainer/model/init.h"
#include "trainer/model/small_gemm.h"

namespace rnn_dist::model {

using detail::block;
using detail::Index;
using detail::StepMask;

SimpleRnn::SimpleRnn(int input_dim, int units, bool return_sequences)
    : RecurrentLayer(input_dim, units, return_sequences) {
  if (input_dim < 1 || units < 1)
    throw std::invalid_argument("SimpleRNN: input_dim and units must be >= 1");
}

void SimpleRnn::declare(ParameterLayout& layout, const std::string& name) {
  const std::int64_t n = input_dim_, u = units_;
  kernel_ = layout.add(name + "/kernel", {n, u});
  recurrent_kernel_ = layout.add(name + "/recurrent_kernel", {u, u});
  bias_ = layout.add(name + "/bias", {u});
  declared_ = true;
}

void SimpleRnn::init(std::span<float> params, std::mt19937_64& rng) const {
  if (!declared_) throw std::logic_error("SimpleRNN::init before declare");
  const std::size_t n = input_dim_, u = units_;
  glorot_uniform(params.subspan(kernel_, n * u), input_dim_, units_, rng);
  orthogonal(params.subspan(recurrent_kernel_, u * u), units_, units_, rng);
  auto bias = params.subspan(bias_, u);
  std::fill(bias.begin(), bias.end(), 0.0f);
}

// x (n, P), mask (P) or null, y (u, P) or (u, B), for P = layout.columns().
void SimpleRnn::forward_packed(const float* params, ConstMatrixRef x, const PackedLayout& layout,
                               const std::uint8_t* mask, MatrixRef y) {
  detail::check_shapes("SimpleRNN", x, input_dim_, layout, mask, y, units_, return_sequences_);
  const int T = layout.T, B = layout.B;
  const Index n = input_dim_, u = units_, P = layout.columns(), S = layout.state_columns();
  SimpleRnnCache& k = cache_;
  k.layout = layout;  // reuses the vectors' capacity
  k.mask.set(mask, T, B);
  k.x = x.data();
  k.x_stride = x.outerStride();
  float* Z = detail::grow(k.z, u * P);
  float* H = detail::grow(k.h, u * S);
  ConstMatrixMap Wt(params + kernel_, u, n);
  ConstMatrixMap Ut(params + recurrent_kernel_, u, u);
  ConstVectorMap b(params + bias_, u);

  // Input projection of all steps at once, Z = W^T x + b; then h_t = tanh(Z_t + U^T h_{t-1}).
  detail::gemm_nn(u, P, n, Wt.data(), u, x.data(), x.outerStride(), Z, u, false, b.data());
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
    float* zt = Z + layout.offset[t] * u;
    if (t > 0) detail::gemm_nn(u, w, u, Ut.data(), u, h_prev, u, zt, u, true);
    MatrixMap(ht, u, w).array() = MatrixMap(zt, u, w).array().tanh();
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

// dy (u, P) or (u, B); dx (n, P) or empty.
//   dz_t = dh_t (1 - h_t^2);  dh_{t-1} = U dz_t (+ dy_{t-1})
void SimpleRnn::backward(const float* params, float* grads, ConstMatrixRef dy, MatrixRef dx) {
  SimpleRnnCache& k = cache_;
  const PackedLayout& L = k.layout;
  const int T = L.T, B = L.B;
  const Index n = input_dim_, u = units_, P = L.columns();
  detail::check_backward("SimpleRNN", k.ready, dy, units_, return_sequences_ ? P : B, dx,
                         input_dim_, P);
  k.ready = false;
  const float* H = k.h.data();
  MatrixMap dZ(k.z.data(), u, P);  // overwrites the pre-activations
  ConstMatrixMap Wt(params + kernel_, u, n);
  ConstMatrixMap Ut(params + recurrent_kernel_, u, u);
  float* dh = detail::grow(k.dh, u * B);
  float* dh_prev = detail::grow(k.dh_prev, u * B);
  float* U = detail::grow(k.u_rows, u * u);  // (U^T)^T, for dh_{t-1} = U dz_t
  detail::transpose_into(Ut.data(), u, u, U);

  detail::start_state_gradient(return_sequences_, dy, dh, u, B);
  for (int t = T - 1; t >= 0; --t) {
    const int w = L.width[t];
    // dh: the gradient of step t's state block, gathered down to its w columns.
    detail::gather_step_gradient(L, t, return_sequences_, dy, dh, u);
    MatrixMap dzt(dZ.data() + L.offset[t] * u, u, w);
    const StepMask sm = k.mask.step(t);
    if (sm == StepMask::kAll) {  // padding everywhere: dh passes to step t-1 unchanged
      dzt.setZero();
      continue;
    }
    const auto ht = ConstMatrixMap(H + L.state_offset(t) * u, u, w).array();
    dzt.array() = MatrixMap(dh, u, w).array() * (1.0f - ht * ht);
    const std::uint8_t* m = sm == StepMask::kSome ? k.mask.step_mask(t, B) : nullptr;
    if (m != nullptr) detail::copy_masked_columns(m, B, u, nullptr, u, dzt.data(), u);
    if (t > 0) {
      detail::gemm_nn(u, w, u, U, u, dzt.data(), u, dh_prev, u, false);
      if (m != nullptr) detail::copy_masked_columns(m, B, u, dh, u, dh_prev, u);
      std::swap(dh, dh_prev);  // now the gradient of step t-1's state block (w columns)
    }
  }

  // Step t's dZ pairs with step t-1's state block, which has the same width: one product.
  detail::ConstStridedMatrix X(k.x, n, P, Eigen::OuterStride<>(k.x_stride));
  MatrixMap dWt(grads + kernel_, u, n), dUt(grads + recurrent_kernel_, u, u);
  VectorMap dbias(grads + bias_, u);
  detail::gemm_nt_acc(dWt, dZ, X, k.nt_scratch);
  const Index w0 = L.width[0];
  if (P > w0) detail::gemm_nt_acc(dUt, dZ.rightCols(P - w0), ConstMatrixMap(H, u, P - w0), k.nt_scratch);
  // (A plain loop, not Eigen's rowwise().sum(), whose bits depend on the buffer's alignment:
  // a micro-batch must give the same gradient wherever it is computed.)
  detail::add_row_sums(dZ.data(), u, P, dbias.data());
  if (dx.size() != 0) detail::input_gradient(Wt.data(), u, n, dZ.data(), P, k.w_rows, dx);
}

}  // namespace rnn_dist::model
