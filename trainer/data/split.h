// The validation split, Keras style: keras.datasets.imdb shuffles the training set with a fixed
// seed, and fit(validation_split=f) then holds out the LAST f of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rnn_dist::data {

struct TrainValSplit {
  std::vector<uint32_t> train;  // example indices used for training
  std::vector<uint32_t> val;    // example indices held out for validation
};

// The loader's fixed shuffle before the validation split, as keras.datasets.imdb's seed=113: the
// split is the same whatever the training seed is (training and `evaluate --split val` use it).
inline constexpr uint64_t kLoaderSeed = 113;

// Shuffles 0..n-1 with a Fisher-Yates driven by Rng(seed) (identical on every platform), then
// splits at split_at = floor(n * (1 - fraction)) (Keras's rule): train = the first split_at,
// val = the rest. fraction 0 gives an empty val. Throws DataError naming the value unless
// 0 <= fraction < 1.
TrainValSplit make_validation_split(size_t n, double fraction, uint64_t seed);

// The number of training examples make_validation_split(n, fraction, ...) leaves:
// floor(n * (1 - fraction)). REQUIRES: 0 <= fraction < 1.
size_t training_count(size_t n, double fraction);

}  // namespace rnn_dist::data
