#include "trainer/model/small_gemm.h"

#include <algorithm>

namespace rnn_dist::model::detail {

namespace {

using Index = Eigen::Index;
using Packet = Eigen::internal::packet_traits<float>::type;
constexpr Index kP = Eigen::internal::unpacket_traits<Packet>::size;

// C[0:MR*kP, 0:NR] (+)= A[0:MR*kP, 0:K] B[0:K, 0:NR], accumulating in MR*NR registers.
template <int MR, int NR>
inline void micro_kernel(Index K, const float* A, Index lda, const float* B, Index ldb, float* C,
                         Index ldc, bool accumulate, const float* bias) {
  using namespace Eigen::internal;
  Packet acc[MR][NR];
  for (int r = 0; r < MR; ++r) {
    const Packet b0 = bias != nullptr ? ploadu<Packet>(bias + r * kP) : pset1<Packet>(0.0f);
    for (int c = 0; c < NR; ++c)
      acc[r][c] = accumulate ? padd(b0, ploadu<Packet>(C + c * ldc + r * kP)) : b0;
  }
  for (Index k = 0; k < K; ++k) {
    Packet a[MR];
    for (int r = 0; r < MR; ++r) a[r] = ploadu<Packet>(A + k * lda + r * kP);
    for (int c = 0; c < NR; ++c) {
      const Packet b = pset1<Packet>(B[c * ldb + k]);
      for (int r = 0; r < MR; ++r) acc[r][c] = pmadd(a[r], b, acc[r][c]);
    }
  }
  for (int c = 0; c < NR; ++c)
    for (int r = 0; r < MR; ++r) pstoreu(C + c * ldc + r * kP, acc[r][c]);
}

// All columns of a band of MR*kP rows: NR columns at a time, then one at a time.
template <int MR, int NR>
inline void row_band(Index N, Index K, const float* A, Index lda, const float* B, Index ldb,
                     float* C, Index ldc, bool accumulate, const float* bias) {
  Index j = 0;
  for (; j + NR <= N; j += NR)
    micro_kernel<MR, NR>(K, A, lda, B + j * ldb, ldb, C + j * ldc, ldc, accumulate, bias);
  for (; j < N; ++j)
    micro_kernel<MR, 1>(K, A, lda, B + j * ldb, ldb, C + j * ldc, ldc, accumulate, bias);
}

}  // namespace

void gemm_nn(Index M, Index N, Index K, const float* A, Index lda, const float* B, Index ldb,
             float* C, Index ldc, bool accumulate, const float* bias) {
  Index i = 0;
  // Bands of 4, 2, 1 packets of rows; 4 x 4, 2 x 8, 1 x 8 accumulators (<= 16 of 32 registers
  // with AVX-512, all 16 with AVX2).
  for (; i + 4 * kP <= M; i += 4 * kP)
    row_band<4, 4>(N, K, A + i, lda, B, ldb, C + i, ldc, accumulate, bias ? bias + i : nullptr);
  for (; i + 2 * kP <= M; i += 2 * kP)
    row_band<2, 8>(N, K, A + i, lda, B, ldb, C + i, ldc, accumulate, bias ? bias + i : nullptr);
  for (; i + kP <= M; i += kP)
    row_band<1, 8>(N, K, A + i, lda, B, ldb, C + i, ldc, accumulate, bias ? bias + i : nullptr);
  if (i == M) return;
  // Leftover rows (M not a multiple of the packet size): plain loops.
  for (Index j = 0; j < N; ++j)
    for (Index r = i; r < M; ++r) {
      float s = (accumulate ? C[j * ldc + r] : 0.0f) + (bias ? bias[r] : 0.0f);
      for (Index k = 0; k < K; ++k) s += A[k * lda + r] * B[j * ldb + k];
      C[j * ldc + r] = s;
    }
}

void gemm_nt_acc(MatrixRef C, ConstMatrixRef A, ConstMatrixRef B) {
  const Index K = A.cols();
  if (Eigen::nbThreads() > 1) {  // Eigen's parallel GEMM allocates anyway: one product, all threads
    C.noalias() += A * B.transpose();
    return;
  }
  // Eigen packs at most kc x mc of A and kc x nc of B with kc <= slice, mc <= M, nc <= N.
  constexpr Index kStackFloats = EIGEN_STACK_ALLOCATION_LIMIT / sizeof(float);
  const Index slice = std::max<Index>(1, kStackFloats / std::max(C.rows(), C.cols()));
  for (Index k = 0; k < K; k += slice) {
    const Index len = std::min(slice, K - k);
    C.noalias() += A.middleCols(k, len) * B.middleCols(k, len).transpose();
  }
}

void transpose_into(const float* in, Index rows, Index cols, float* out) {
  for (Index j = 0; j < cols; ++j)
    for (Index i = 0; i < rows; ++i) out[i * cols + j] = in[j * rows + i];
}

}  // namespace rnn_dist::model::detail
