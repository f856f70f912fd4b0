// Fixed-point sums that give the same bits in any order: how training adds up the gradients of
// its micro-batches and its metrics across threads and ranks (gradient_step.h).
//
// A float sum depends on the order of its terms, and so on the number of ranks and threads that
// computed them. An int64 sum does not. A tensor's values are therefore converted to integers in
// units of a quantum 2^-e, chosen from the largest |value| of that tensor over every micro-batch
// of the step on every rank (agreed by a max all-reduce): |value| * 2^e < 2^kFixedBits. Up to
// 2^(62 - kFixedBits) such terms add without overflow, and the sum is converted back once.
//
// Precision: the quantum is 2^-kFixedBits (about 9e-16) of the tensor's largest |value| (within a
// factor of 2); float32 itself resolves 2^-24 of each value. A value smaller than 2^-26 of its
// tensor's largest keeps fewer than float's 24 bits; no value keeps fewer than its own
// magnitude / quantum allows, i.e. rounding error <= half a quantum per term.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

namespace rnn_dist::train {

inline constexpr int kFixedBits = 50;
// The most terms (micro-batches) one exact sum may add.
inline constexpr std::int64_t kMaxFixedTerms = std::int64_t{1} << (62 - kFixedBits);

// The exponent e for values of largest magnitude max_abs (finite, >= 0): max_abs * 2^e <
// 2^kFixedBits. 0 for max_abs == 0 (all terms are zero; any e is exact).
inline int fixed_exponent(double max_abs) {
  if (!(max_abs > 0)) return 0;
  int k = 0;
  std::frexp(max_abs, &k);  // max_abs < 2^k
  return kFixedBits - k;
}

// The quantum 2^-e as the two factors the conversions multiply by, computed once per tensor and
// step (ldexp is a library call, and the embedding table is converted a row at a time).
struct Quantum {
  double to_fixed, to_float;  // 2^e, 2^-e
  Quantum(int e) : to_fixed(std::ldexp(1.0, e)), to_float(std::ldexp(1.0, -e)) {}  // NOLINT
};

// acc[i] += round-to-nearest-even(x[i] * 2^e). x[i] * 2^e is exact in double and below 2^51 in
// magnitude (REQUIRES: |x[i]| <= the max_abs that gave e), so adding 1.5 * 2^52 leaves the
// rounded integer in the low mantissa bits, which a plain loop vectorises (there is no vector
// double-to-int64 conversion before AVX-512).
inline void add_fixed(std::span<const float> x, const Quantum& q, std::int64_t* acc) {
  constexpr double kMagic = 6755399441055744.0;  // 1.5 * 2^52
  constexpr std::int64_t kMagicBits = std::bit_cast<std::int64_t>(kMagic);
  const double scale = q.to_fixed;
  for (std::size_t i = 0; i < x.size(); ++i)
    acc[i] += std::bit_cast<std::int64_t>(double(x[i]) * scale + kMagic) - kMagicBits;
}

// out[i] = float(acc[i] * 2^-e) (two roundings, the same on every rank).
inline void from_fixed(const std::int64_t* acc, const Quantum& q, std::span<float> out) {
  const double scale = q.to_float;
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(double(acc[i]) * scale);
}

}  // namespace rnn_dist::train
