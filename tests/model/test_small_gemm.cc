// The layers' GEMM kernels against plain Eigen products, over shapes that hit every register
// block and remainder path (rows not a multiple of the packet size, odd column counts).
#include <gtest/gtest.h>

#include "layer_fixture.h"
#include "trainer/model/small_gemm.h"

namespace rnn_dist::model::testing {
namespace {

TEST(SmallGemm, MatchesEigen) {
  std::mt19937_64 rng(1);
  for (int M : {1, 3, 4, 12, 16, 17, 31, 32, 48, 64, 65, 96, 128, 131})
    for (int N : {1, 3, 8, 9, 17})
      for (int K : {1, 4, 32, 33}) {
        const Matrix A = random_matrix(M + 2, K, rng), B = random_matrix(K + 1, N, rng);
        const Vector bias = random_matrix(M, 1, rng);
        const Matrix C0 = random_matrix(M + 3, N, rng);
        // Leading dimensions larger than the sizes: A (lda = M+2), B (ldb = K+1), C (ldc = M+3).
        for (int mode = 0; mode < 3; ++mode) {
          Matrix C = C0;
          const bool acc = mode != 0;
          const float* b = mode == 2 ? bias.data() : nullptr;
          detail::gemm_nn(M, N, K, A.data(), A.rows(), B.data(), B.rows(), C.data(), C.rows(), acc, b);
          Matrix expect = C0;
          auto top = expect.topRows(M);
          if (!acc) top.setZero();
          if (b != nullptr) top.colwise() += bias;
          top.noalias() += A.topRows(M) * B.topRows(K);
          ASSERT_LT((C - expect).cwiseAbs().maxCoeff(), 1e-4f)
              << "M " << M << " N " << N << " K " << K << " mode " << mode;
        }
      }
}

TEST(SmallGemm, NtAccumulateMatchesEigen) {
  std::mt19937_64 rng(2);
  for (int threads : {1, 2}) {
    Eigen::setNbThreads(threads);
    for (auto [M, N, K] : {std::tuple{128, 32, 5000}, {4, 3, 7}, {300, 200, 1000}}) {
      const Matrix A = random_matrix(M, K, rng), B = random_matrix(N, K, rng);
      Matrix C = random_matrix(M, N, rng);
      const Matrix expect = C + A * B.transpose();
      detail::gemm_nt_acc(C, A, B);
      EXPECT_LT((C - expect).cwiseAbs().maxCoeff(), 1e-3f) << M << " " << N << " " << K;
    }
  }
  Eigen::setNbThreads(0);
}

TEST(SmallGemm, TransposeInto) {
  std::mt19937_64 rng(3);
  const Matrix a = random_matrix(7, 5, rng);
  Matrix t(5, 7);
  detail::transpose_into(a.data(), 7, 5, t.data());
  EXPECT_EQ(t, a.transpose());
}

}  // namespace
}  // namespace rnn_dist::model::testing
