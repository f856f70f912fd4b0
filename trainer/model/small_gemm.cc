#include "trainer/model/small_gemm.h"

#include <algorithm>
#include <utility>

namespace rnn_dist::model::detail {

namespace {

using Index = Eigen::Index;
using Packet = Eigen::internal::packet_traits<float>::type;
constexpr Index kP = sizeof(Packet) / sizeof(float);  // floats per SIMD register
// AVX-512 has 32 vector registers, SSE/AVX 16: the register blocks below are sized for that.
constexpr bool k32Registers = kP >= 16;

// How B is stored: kN, B (K, N) column-major, element (k, c) at B[c * ldb + k]; kT, B given as
// its transpose (N, K) column-major, element (k, c) at B[k * ldb + c]. Either way the kernel
// broadcasts one element per FMA row, so the transposed case needs no copy.
enum class BLayout { kN, kT };

template <BLayout L>
inline float b_at(const float* B, Index ldb, Index k, int c) {
  return L == BLayout::kN ? B[c * ldb + k] : B[k * ldb + c];
}
template <BLayout L>
inline const float* b_columns(const float* B, Index ldb, Index j) {
  return L == BLayout::kN ? B + j * ldb : B + j;
}

// C[0:MR*kP, 0:NR] (+)= A[0:MR*kP, 0:K] B[0:K, 0:NR], accumulating in MR*NR registers:
// accumulator I holds rows (I % MR) * kP.. of column I / MR. Written as folds over I (no loops
// over the accumulators) and with C's reading and the bias as template arguments: with loops and
// run-time tests GCC kept the accumulators in a stack array outside the k loop (stored and
// reloaded before it, stored and reloaded again after it: 96 extra moves for 768 FMAs at the
// step products' K = 32). The operations, and so the bits, are the same.
template <int MR, int NR, BLayout L, bool kAccumulate, bool kBias, std::size_t... I>
inline void micro_kernel_impl(std::index_sequence<I...>, Index K, const float* A, Index lda,
                              const float* B, Index ldb, float* C, Index ldc, const float* bias) {
  using namespace Eigen::internal;
  Packet b0[MR];
  for (int r = 0; r < MR; ++r) b0[r] = kBias ? ploadu<Packet>(bias + r * kP) : pset1<Packet>(0.0f);
  auto at = [&](std::size_t i) { return C + Index(i / MR) * ldc + Index(i % MR) * kP; };
  Packet acc[MR * NR] = {(kAccumulate ? padd(b0[I % MR], ploadu<Packet>(at(I))) : b0[I % MR])...};
  for (Index k = 0; k < K; ++k) {
    Packet a[MR];
    for (int r = 0; r < MR; ++r) a[r] = ploadu<Packet>(A + k * lda + r * kP);
    ((acc[I] = pmadd(a[I % MR], pset1<Packet>(b_at<L>(B, ldb, k, int(I / MR))), acc[I])), ...);
  }
  (pstoreu(at(I), acc[I]), ...);
}

template <int MR, int NR, BLayout L, bool kAccumulate, bool kBias>
inline void micro_kernel(Index K, const float* A, Index lda, const float* B, Index ldb, float* C,
                         Index ldc, const float* bias) {
  micro_kernel_impl<MR, NR, L, kAccumulate, kBias>(std::make_index_sequence<MR * NR>{}, K, A, lda,
                                                   B, ldb, C, ldc, bias);
}

// The last N % NR columns of a band with one kernel of that width: micro-batches make narrow
// products (17 columns at micro-batch 16 with the padding column), and one column at a time
// would load every A packet for one FMA each.
template <int MR, int R, BLayout L, bool kAccumulate, bool kBias>
inline void last_columns(Index n, Index K, const float* A, Index lda, const float* B, Index ldb,
                         float* C, Index ldc, const float* bias) {
  if constexpr (R > 0) {
    if (n == R)
      return micro_kernel<MR, R, L, kAccumulate, kBias>(K, A, lda, B, ldb, C, ldc, bias);
    last_columns<MR, R - 1, L, kAccumulate, kBias>(n, K, A, lda, B, ldb, C, ldc, bias);
  }
}

// All columns of a band of MR*kP rows: NR columns at a time, then the rest at once.
template <int MR, int NR, BLayout L, bool kAccumulate, bool kBias>
inline void row_band(Index N, Index K, const float* A, Index lda, const float* B, Index ldb,
                     float* C, Index ldc, const float* bias) {
  Index j = 0;
  for (; j + NR <= N; j += NR)
    micro_kernel<MR, NR, L, kAccumulate, kBias>(K, A, lda, b_columns<L>(B, ldb, j), ldb,
                                                C + j * ldc, ldc, bias);
  last_columns<MR, NR - 1, L, kAccumulate, kBias>(N - j, K, A, lda, b_columns<L>(B, ldb, j), ldb,
                                                  C + j * ldc, ldc, bias);
}

template <BLayout L, bool kAccumulate, bool kBias>
void gemm(Index M, Index N, Index K, const float* A, Index lda, const float* B, Index ldb,
          float* C, Index ldc, const float* bias) {
  Index i = 0;
  auto band_bias = [&](Index row) { return kBias ? bias + row : nullptr; };
  if constexpr (k32Registers) {
    // Bands of 4, 2, 1 packets of rows with 4 x 6, 2 x 8, 1 x 8 accumulators: the fastest of
    // 4 x {2, 4, 6, 8} and 2 x {4, 8, 12} for the LSTM(32) shapes on AVX-512 (Zen).
    for (; i + 4 * kP <= M; i += 4 * kP)
      row_band<4, 6, L, kAccumulate, kBias>(N, K, A + i, lda, B, ldb, C + i, ldc, band_bias(i));
    for (; i + 2 * kP <= M; i += 2 * kP)
      row_band<2, 8, L, kAccumulate, kBias>(N, K, A + i, lda, B, ldb, C + i, ldc, band_bias(i));
  } else {
    // 16 registers: 2 x 4 accumulators plus 2 for A and 1 for B.
    for (; i + 2 * kP <= M; i += 2 * kP)
      row_band<2, 4, L, kAccumulate, kBias>(N, K, A + i, lda, B, ldb, C + i, ldc, band_bias(i));
  }
  for (; i + kP <= M; i += kP)
    row_band<1, 8, L, kAccumulate, kBias>(N, K, A + i, lda, B, ldb, C + i, ldc, band_bias(i));
  if (i == M) return;
  // Leftover rows (M not a multiple of the packet size): plain loops.
  for (Index j = 0; j < N; ++j)
    for (Index r = i; r < M; ++r) {
      float s = (kAccumulate ? C[j * ldc + r] : 0.0f) + (kBias ? bias[r] : 0.0f);
      for (Index k = 0; k < K; ++k) s += A[k * lda + r] * b_at<L>(B, ldb, k, int(j));
      C[j * ldc + r] = s;
    }
}

template <BLayout L>
void gemm(Index M, Index N, Index K, const float* A, Index lda, const float* B, Index ldb,
          float* C, Index ldc, bool accumulate, const float* bias) {
  if (accumulate)
    bias != nullptr ? gemm<L, true, true>(M, N, K, A, lda, B, ldb, C, ldc, bias)
                    : gemm<L, true, false>(M, N, K, A, lda, B, ldb, C, ldc, bias);
  else
    bias != nullptr ? gemm<L, false, true>(M, N, K, A, lda, B, ldb, C, ldc, bias)
                    : gemm<L, false, false>(M, N, K, A, lda, B, ldb, C, ldc, bias);
}

}  // namespace

void gemm_nn(Index M, Index N, Index K, const float* A, Index lda, const float* B, Index ldb,
             float* C, Index ldc, bool accumulate, const float* bias) {
  gemm<BLayout::kN>(M, N, K, A, lda, B, ldb, C, ldc, accumulate, bias);
}

void gemm_nt_acc(MatrixRef C, ConstMatrixRef A, ConstMatrixRef B) {
  const Index M = C.rows(), N = C.cols(), K = A.cols();
  // Slices of kKc columns of A (128 x 256 floats for LSTM(32): 128 KB, stays in L2) times the
  // matching rows of B^T (the slice of B, 32 x 256 floats, 32 KB: L1), read in place.
  constexpr Index kKc = kGemmNtSlice;
  for (Index k0 = 0; k0 < K; k0 += kKc) {
    const Index len = std::min(kKc, K - k0);
    gemm<BLayout::kT, true, false>(M, N, len, A.data() + k0 * A.outerStride(), A.outerStride(),
                                   B.data() + k0 * B.outerStride(), B.outerStride(), C.data(),
                                   C.outerStride(), nullptr);
  }
}

void transpose_into(const float* in, Index rows, Index cols, float* out) {
  for (Index j = 0; j < cols; ++j)
    for (Index i = 0; i < rows; ++i) out[i * cols + j] = in[j * rows + i];
}

}  // namespace rnn_dist::model::detail
