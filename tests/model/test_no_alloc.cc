// Proves that forward() and backward() of the recurrent layers allocate no heap memory once their
// buffers have grown: this binary replaces malloc & co. (glibc symbol interposition, forwarding to
// glibc's __libc_* implementations) with counting versions. That catches every allocation -
// Eigen's (product temporaries, GEMM blocking workspaces), std::vector's and operator new's -
// unlike EIGEN_RUNTIME_NO_MALLOC, which sees Eigen's alone. Not built with sanitizers, which
// replace malloc themselves.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <vector>

#include "layer_fixture.h"

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);
}

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

// Called on each counted allocation: to find the culprit, `break rnn_dist_counted_allocation` in
// gdb and print a backtrace.
extern "C" __attribute__((noinline)) void rnn_dist_counted_allocation() {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  asm volatile("");
}

namespace {
inline void note() {
  if (g_counting.load(std::memory_order_relaxed)) rnn_dist_counted_allocation();
}
}  // namespace

extern "C" {
void* malloc(std::size_t n) { note(); return __libc_malloc(n); }
void* calloc(std::size_t a, std::size_t b) { note(); return __libc_calloc(a, b); }
void* realloc(void* p, std::size_t n) { note(); return __libc_realloc(p, n); }
void free(void* p) { __libc_free(p); }
void* memalign(std::size_t al, std::size_t n) { note(); return __libc_memalign(al, n); }
void* aligned_alloc(std::size_t al, std::size_t n) { note(); return __libc_memalign(al, n); }
int posix_memalign(void** out, std::size_t al, std::size_t n) {
  note();
  void* p = __libc_memalign(al, n);
  if (p == nullptr) return 12;  // ENOMEM
  *out = p;
  return 0;
}
}

namespace rnn_dist::model::testing {
namespace {

long allocations_during(const std::function<void()>& f) {
  g_allocations = 0;
  g_counting = true;
  f();
  g_counting = false;
  return g_allocations.load();
}

TEST(NoAlloc, CounterSeesAllocations) {
  EXPECT_GE(allocations_during([] { Matrix m(100, 100); m.setZero(); }), 1);
  EXPECT_GE(allocations_during([] { std::vector<float> v(10); v[0] = 1; }), 1);
}

class NoAllocLayer : public ::testing::TestWithParam<Kind> {};

TEST_P(NoAllocLayer, ForwardBackwardAfterWarmUp) {
  // The product's shape (u = 32 on 32 inputs, as the default model) and a small one; masked and
  // unmasked; return_sequences on and off; a smaller batch after a bigger one reuses the buffers.
  for (auto [n, u] : {std::pair{32, 32}, {3, 4}})
    for (bool rs : {false, true}) {
      const int T = 20, B = 16;  // inputs sized for up to 4T steps

      Net net;
      net.add(make_layer(GetParam(), n, u, rs), "rnn");
      net.init(1, 0.1f);
      std::mt19937_64 rng(2);
      const Matrix x = random_matrix(n, 4 * T * B, rng);
      const Matrix dy = random_matrix(u, rs ? 4 * T * B : B, rng);
      Matrix y(u, rs ? 4 * T * B : B), dx(n, 4 * T * B);
      std::vector<std::uint8_t> mask(4 * T * B, 1);
      for (int t = 0; t < 5; ++t) mask[t * B + 3] = 0;
      for (int b = 0; b < B; ++b) mask[b] = 0;  // an all-masked step
      RecurrentLayer& layer = *net.layers[0];
      auto step = [&](const std::uint8_t* m, int T2) {
        auto xs = x.leftCols(T2 * B);
        auto ys = rs ? y.leftCols(T2 * B) : y.leftCols(B);
        layer.forward(net.params.data(), xs, m, T2, B, ys);
        auto dys = rs ? dy.leftCols(T2 * B) : dy.leftCols(B);
        layer.backward(net.params.data(), net.grads.data(), dys, dx.leftCols(T2 * B));
      };
      step(mask.data(), 4 * T);  // warm-up: buffers grow here
      // A packed batch (recurrent.h) of 2T steps whose width grows from 1 to B.
      PackedLayout packed;
      std::vector<int> widths(2 * T);
      for (int t = 0; t < 2 * T; ++t) widths[t] = std::min(B, 1 + t * B / T);
      packed.set(2 * T, B, widths);
      auto packed_step = [&] {
        const Eigen::Index P = packed.columns();
        auto ys = rs ? y.leftCols(P) : y.leftCols(B);
        layer.forward_packed(net.params.data(), x.leftCols(P), packed, nullptr, ys);
        auto dys = rs ? dy.leftCols(P) : dy.leftCols(B);
        layer.backward(net.params.data(), net.grads.data(), dys, dx.leftCols(P));
      };
      Eigen::setNbThreads(1);
      EXPECT_EQ(allocations_during([&] { step(nullptr, T); }), 0) << n << "," << u << "," << rs;
      EXPECT_EQ(allocations_during([&] { step(mask.data(), T); }), 0) << n << "," << u << "," << rs;
      EXPECT_EQ(allocations_during([&] { step(mask.data(), T / 2); }), 0) << n << "," << u << "," << rs;
      EXPECT_EQ(allocations_during(packed_step), 0) << n << "," << u << "," << rs;
#ifdef _OPENMP
      // The layers run no Eigen GEMM (their products are our kernel), so multi-threaded Eigen
      // (OpenMP) does not allocate in them either.
      Eigen::setNbThreads(2);
      EXPECT_EQ(allocations_during([&] { step(nullptr, T); }), 0) << n << "," << u << "," << rs;
      EXPECT_EQ(allocations_during([&] { step(mask.data(), 4 * T); }), 0) << n << "," << u << "," << rs;
      Eigen::setNbThreads(0);
#endif
    }
}

INSTANTIATE_TEST_SUITE_P(Layers, NoAllocLayer,
                         ::testing::ValuesIn(kAllKinds),
                         [](const ::testing::TestParamInfo<Kind>& info) {
                           return std::string(kind_name(info.param));
                         });

}  // namespace
}  // namespace rnn_dist::model::testing
