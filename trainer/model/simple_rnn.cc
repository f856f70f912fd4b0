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

// x (n, T*B), mask (T*B) or null, y (u, T*B) or (u, B).
void SimpleRnn::forward(const float* params, ConstMatrixRef x, const std::uint8_t* mask, int T,
                        int B, MatrixRef y) {
  detail::check_shapes("SimpleRNN", x, input_dim_, T, B, y, units_, return_sequences_);
  const Index n = input_dim_, u = units_, TB = Index(T) * B;
  SimpleRnnCache& k = cache_;
  k.mask.set(mask, T, B);
  k.x = x.data();
  k.x_stride = x.outerStride();
  k.T = T;
  k.B = B;
  MatrixMap H(detail::grow(k.h, u * TB), u, TB);
  ConstMatrixMap Wt(params + kernel_, u, n);
  ConstMatrixMap Ut(params + recurrent_kernel_, u, u);
  ConstVectorMap b(params + bias_, u);

  // Input projection of all steps at once, W^T x + b; then h_t in place.
  detail::gemm_nn(u, TB, n, Wt.data(), u, x.data(), x.outerStride(), H.data(), u, false, b.data());
  for (int t = 0; t < T; ++t) {
    const Index col = Index(t) * B;
    const StepMask sm = k.mask.step(t);
    float* h_prev = t > 0 ? H.data() + (col - B) * u : nullptr;
    MatrixMap ht(H.data() + col * u, u, B);
    if (sm == StepMask::kAll) {
      if (t > 0)
        ht = MatrixMap(h_prev, u, B);
      else
        ht.setZero();
      continue;
    }
    if (t > 0) detail::gemm_nn(u, B, u, Ut.data(), u, h_prev, u, ht.data(), u, true);
    ht.array() = ht.array().tanh();
    if (sm == StepMask::kSome)
      detail::copy_masked_columns(k.mask.step_mask(t, B), B, u, h_prev, u, ht.data(), u);
  }
  if (return_sequences_)
    y = H;
  else
    y = H.rightCols(B);
  k.ready = true;
}

// dy (u, T*B) or (u, B); dx (n, T*B) or empty.
//   dz_t = dh_t (1 - h_t^2);  dh_{t-1} = U dz_t (+ dy_{t-1})
void SimpleRnn::backward(const float* params, float* grads, ConstMatrixRef dy, MatrixRef dx) {
  SimpleRnnCache& k = cache_;
  const int T = k.T, B = k.B;
  const Index n = input_dim_, u = units_, TB = Index(T) * B;
  detail::check_backward("SimpleRNN", k.ready, dy, units_, return_sequences_ ? TB : B, dx,
                         input_dim_, TB);
  k.ready = false;
  const float* H = k.h.data();
  MatrixMap dZ(detail::grow(k.dz, u * TB), u, TB);
  ConstMatrixMap Wt(params + kernel_, u, n);
  ConstMatrixMap Ut(params + recurrent_kernel_, u, u);
  float* dh = detail::grow(k.dh, u * B);
  float* dh_prev = detail::grow(k.dh_prev, u * B);
  float* U = detail::grow(k.u_rows, u * u);  // (U^T)^T, for dh_{t-1} = U dz_t
  detail::transpose_into(Ut.data(), u, u, U);

  MatrixMap(dh, u, B) = return_sequences_ ? dy.rightCols(B) : dy;
  for (int t = T - 1; t >= 0; --t) {
    const Index col = Index(t) * B;
    MatrixMap dzt(dZ.data() + col * u, u, B);
    const StepMask sm = k.mask.step(t);
    if (sm == StepMask::kAll) {
      dzt.setZero();
    } else {
      const auto ht = ConstMatrixMap(H + col * u, u, B).array();
      dzt.array() = MatrixMap(dh, u, B).array() * (1.0f - ht * ht);
      const std::uint8_t* m = sm == StepMask::kSome ? k.mask.step_mask(t, B) : nullptr;
      if (m != nullptr) detail::copy_masked_columns(m, B, u, nullptr, u, dzt.data(), u);
      if (t > 0) {
        detail::gemm_nn(u, B, u, U, u, dzt.data(), u, dh_prev, u, false);
        if (m != nullptr) detail::copy_masked_columns(m, B, u, dh, u, dh_prev, u);
        std::swap(dh, dh_prev);
      }
    }
    // Now dh is the gradient w.r.t. h_{t-1}.
    if (t > 0 && return_sequences_) MatrixMap(dh, u, B) += dy.middleCols(col - B, B);
  }

  detail::ConstStridedMatrix X(k.x, n, TB, Eigen::OuterStride<>(k.x_stride));
  MatrixMap dWt(grads + kernel_, u, n), dUt(grads + recurrent_kernel_, u, u);
  VectorMap dbias(grads + bias_, u);
  detail::gemm_nt_acc(dWt, dZ, X, k.nt_scratch);
  if (T > 1) detail::gemm_nt_acc(dUt, dZ.rightCols(TB - B), ConstMatrixMap(H, u, TB - B), k.nt_scratch);
  dbias += dZ.rowwise().sum();
  if (dx.size() != 0) detail::input_gradient(Wt.data(), u, n, dZ.data(), TB, k.w_rows, dx);
}

}  // namespace rnn_dist::model
