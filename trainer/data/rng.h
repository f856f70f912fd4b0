// Deterministic random numbers for the data pipeline: the same (seed) gives the same sequence with
// every compiler and standard library (std::shuffle and std::uniform_int_distribution do not
// promise that, so they are not used for anything that decides which examples a step sees).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace rnn_dist::data {

// SplitMix64 step (Steele, Lea, Flood 2014): a good 64-bit mixer, used to seed and to hash.
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Mixes several 64-bit values into one seed (e.g. (seed, epoch) -> the epoch's stream).
inline uint64_t mix_seed(uint64_t a, uint64_t b) {
  uint64_t s = a;
  uint64_t h = splitmix64(s);
  s = h ^ (b + 0x632BE59BD9B4E019ull);
  return splitmix64(s);
}

// xoshiro256** 1.0 (Blackman, Vigna), seeded through SplitMix64.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& word : s_) word = splitmix64(seed);
  }

  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform integer in [0, bound). REQUIRES: bound > 0. Lemire's multiply-shift with rejection,
  // so there is no modulo bias.
  uint64_t below(uint64_t bound) {
    unsigned __int128 m = static_cast<unsigned __int128>(next()) * bound;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < bound) {
      const uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(next()) * bound;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// Fisher-Yates shuffle of `values` in place with `rng` (the same on every platform).
template <typename T>
void fisher_yates(std::span<T> values, Rng& rng) {
  for (size_t i = values.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(rng.below(i));
    std::swap(values[i - 1], values[j]);
  }
}

}  // namespace rnn_dist::data
