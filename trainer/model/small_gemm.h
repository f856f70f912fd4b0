// Matrix products for the recurrent layers' hot loops, with no heap allocation and no threads.
//
// gemm_nn is a register-blocked kernel for C += A B where A is small enough to stay in L1 (the
// (G*u, u) recurrent kernel, the (G*u, n) input kernel): it reads A and B in place, so unlike
// Eigen's GEMM it does not pack operands on every call, never allocates, and never forks OpenMP
// threads. It is what the time loop uses for the per-step U^T h product.
// gemm_nt_acc computes the whole-sequence weight gradients (inner dimension T*B) with the same
// kernel, slice by slice and reading B^T in place: Eigen's GEMM reached only ~65 GFLOP/s on that shape, packed its
// operands into heap buffers, and forked OpenMP threads.
#pragma once

#include "trainer/model/tensor.h"

namespace rnn_dist::model::detail {

// C (M, N) = [C +] [bias +] A (M, K) * B (K, N): column-major with leading dimensions lda, ldb,
// ldc; C is read only if `accumulate`; bias (M) is added to every column unless null.
// REQUIRES: C does not overlap A, B or bias.
void gemm_nn(Eigen::Index M, Eigen::Index N, Eigen::Index K, const float* A, Eigen::Index lda,
             const float* B, Eigen::Index ldb, float* C, Eigen::Index ldc, bool accumulate,
             const float* bias = nullptr);

// gemm_nt_acc's slice of K: a product over K columns adds the same bits as products over
// consecutive ranges of multiples of kGemmNtSlice columns (and the rest) in order.
inline constexpr Eigen::Index kGemmNtSlice = 256;

// C (M, N) += A (M, K) * B (N, K)^T for any K (the whole-sequence weight gradients, K = T*B):
// the same kernel over slices of kGemmNtSlice of K, reading B's elements in place (no transposed
// copy).
void gemm_nt_acc(MatrixRef C, ConstMatrixRef A, ConstMatrixRef B);

// out (cols, rows) = in (rows, cols)^T, both column-major and contiguous.
void transpose_into(const float* in, Eigen::Index rows, Eigen::Index cols, float* out);

}  // namespace rnn_dist::model::detail
