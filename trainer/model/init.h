// Keras initialisers, drawn deterministically from a std::mt19937_64.
//
// The draws use our own uniform and Box-Muller code, not std::uniform_real_distribution /
// std::normal_distribution, whose outputs differ between standard libraries: the same seed gives
// the same parameters with any compiler. Every function fills `out` completely.
#pragma once

#include <cstdint>
#include <random>
#include <span>

namespace rnn_dist::model {

// A float in [0, 1) from the top 24 bits of one rng() draw: (rng() >> 40) * 2^-24.
float uniform01(std::mt19937_64& rng);
// A standard normal deviate (Box-Muller; consumes two rng() draws per call, uses one result).
float standard_normal(std::mt19937_64& rng);

// out[i] ~ U[lo, hi). Keras RandomUniform (Embedding default: lo = -0.05, hi = 0.05).
void uniform(std::span<float> out, float lo, float hi, std::mt19937_64& rng);

// Keras GlorotUniform for a kernel with fan_in inputs and fan_out outputs (for a Keras kernel of
// shape (n, m): fan_in = n, fan_out = m): U[-limit, limit), limit = sqrt(6 / (fan_in + fan_out)).
// REQUIRES: out.size() == fan_in * fan_out.
void glorot_uniform(std::span<float> out, std::int64_t fan_in, std::int64_t fan_out,
                    std::mt19937_64& rng);

// Keras Orthogonal (gain 1) for a tensor of Keras shape (rows, cols), written row-major into out
// (the layout of our parameter buffer): QR of a standard normal (max(rows,cols), min(rows,cols))
// matrix, Q's columns sign-corrected by sign(diag(R)), transposed when rows < cols. The result has
// orthonormal rows if rows <= cols, orthonormal columns otherwise.
// REQUIRES: out.size() == rows * cols.
void orthogonal(std::span<float> out, std::int64_t rows, std::int64_t cols, std::mt19937_64& rng);

}  // namespace rnn_dist::model
