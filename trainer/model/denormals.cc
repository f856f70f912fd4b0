#include "trainer/model/denormals.h"

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace rnn_dist::model {

#if defined(__SSE__)
namespace {
constexpr unsigned kFtz = 1u << 15;  // MXCSR flush-to-zero
constexpr unsigned kDaz = 1u << 6;   // MXCSR denormals-are-zero
}  // namespace

void set_flush_denormals(bool flush) {
  const unsigned csr = _mm_getcsr();
  _mm_setcsr(flush ? (csr | kFtz | kDaz) : (csr & ~(kFtz | kDaz)));
}

bool flush_denormals() { return (_mm_getcsr() & (kFtz | kDaz)) == (kFtz | kDaz); }
#else
void set_flush_denormals(bool) {}
bool flush_denormals() { return false; }
#endif

}  // namespace rnn_dist::model
