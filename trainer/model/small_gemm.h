// Matrix products for the recurrent layers' hot loops, with no heap allocation and no threads.
//
// gemm_nn is a register-blocked kernel for C += A B where A is small enough to stay in L1 (the
// (G*u, u) recurrent kernel, the (G*u, n) input kernel): it reads A and B in place, so unlike
// Eigen's GEMM it does not pack operands on every call, never allocates, and never forks OpenMP
// threads. It is what the time loop uses for the per-step U^T h product.
// gemm_nt_acc wraps Eigen's GEMM for the whole-sequence weight gradients (long inner dimension)
// and splits that dimension so that Eigen's packing buffers fit its stack allocation limit.
#pragma once

#include "trainer/model/tensor.h"

namespace rnn_dist::model::detail {

// C (M, N) = [C +] [bias +] A (M, K) * B (K, N): column-major with leading dimensions lda, ldb,
// ldc; C is read only if `accumulate`; bias (M) is added to every column unless null.
// REQUIRES: C does not overlap A, B or bias.
void gemm_nn(Eigen::Index M, Eigen::Index N, Eigen::Index K, const float* A, Eigen::Index lda,
             const float* B, Eigen::Index ldb, float* C, Eigen::Index ldc, bool accumulate,
             const float* bias = nullptr);

// C (M, N) += A (M, K) * B (N, K)^T for any K, as Eigen GEMMs over slices of K whose packed
// operands stay below EIGEN_STACK_ALLOCATION_LIMIT (so Eigen takes them from the stack).
// With Eigen::nbThreads() > 1 it is one multi-threaded Eigen product, which allocates a little
// bookkeeping for its threads.
void gemm_nt_acc(MatrixRef C, ConstMatrixRef A, ConstMatrixRef B);

// out (cols, rows) = in (rows, cols)^T, both column-major and contiguous.
void transpose_into(const float* in, Eigen::Index rows, Eigen::Index cols, float* out);

}  // namespace rnn_dist::model::detail
