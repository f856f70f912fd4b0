#include "trainer/data/split.h"

#include <numeric>
#include <span>
#include <string>

#include "trainer/data/data_error.h"
#include "trainer/data/rng.h"

namespace rnn_dist::data {

TrainValSplit make_validation_split(size_t n, double fraction, uint64_t seed) {
  if (!(fraction >= 0.0 && fraction < 1.0)) {
    throw DataError("validation_split must be in [0, 1): got " + std::to_string(fraction));
  }
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  Rng rng(seed);
  fisher_yates(std::span<uint32_t>(order), rng);
  const size_t split_at = training_count(n, fraction);
  TrainValSplit split;
  split.train.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(split_at));
  split.val.assign(order.begin() + static_cast<std::ptrdiff_t>(split_at), order.end());
  return split;
}

size_t training_count(size_t n, double fraction) {
  return static_cast<size_t>(static_cast<double>(n) * (1.0 - fraction));
}

}  // namespace rnn_dist::data
