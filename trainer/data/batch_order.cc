#include "trainer/data/batch_order.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "trainer/data/data_error.h"
#include "trainer/data/rng.h"

namespace rnn_dist::data {

BatchOrder::BatchOrder(std::span<const uint32_t> examples, int global_batch, uint64_t seed,
                       const BucketOptions* bucketing)
    : examples_(examples.begin(), examples.end()), global_batch_(global_batch), seed_(seed) {
  if (global_batch < 1) {
    throw DataError("batch size must be at least 1: got " + std::to_string(global_batch));
  }
  num_batches_ = (examples_.size() + global_batch - 1) / global_batch;
  if (bucketing) {
    if (bucketing->window_batches < 1) {
      throw DataError("bucketing window must be at least 1 batch: got " +
                      std::to_string(bucketing->window_batches));
    }
    for (uint32_t e : examples_) {
      if (e >= bucketing->lengths.size()) {
        throw DataError("bucketing lengths cover " + std::to_string(bucketing->lengths.size()) +
                        " examples but example id " + std::to_string(e) + " is used");
      }
    }
    bucketing_ = true;
    buckets_ = *bucketing;
  }
}

void BatchOrder::build_epoch(int epoch) {
  // The epoch's stream depends on (seed, epoch) only.
  Rng rng(mix_seed(seed_, static_cast<uint64_t>(epoch)));
  order_ = examples_;
  fisher_yates(std::span<uint32_t>(order_), rng);
  batch_permutation_.resize(num_batches_);
  std::iota(batch_permutation_.begin(), batch_permutation_.end(), 0u);
  if (bucketing_) {
    const size_t window = static_cast<size_t>(buckets_.window_batches) * global_batch_;
    const auto& lengths = buckets_.lengths;
    for (size_t begin = 0; begin < order_.size(); begin += window) {
      const auto first = order_.begin() + static_cast<std::ptrdiff_t>(begin);
      const auto last =
          order_.begin() + static_cast<std::ptrdiff_t>(std::min(begin + window, order_.size()));
      std::stable_sort(first, last,
                       [&](uint32_t a, uint32_t b) { return lengths[a] < lengths[b]; });
    }
    fisher_yates(std::span<uint32_t>(batch_permutation_), rng);
  }
  cached_epoch_ = epoch;
}

std::vector<uint32_t> BatchOrder::batch(int epoch, size_t step) {
  if (epoch < 0 || step >= num_batches_) {
    throw DataError("batch (epoch " + std::to_string(epoch) + ", step " + std::to_string(step) +
                    ") is out of range: an epoch has " + std::to_string(num_batches_) + " batches");
  }
  if (epoch != cached_epoch_) build_epoch(epoch);
  const size_t index = batch_permutation_[step];
  const size_t begin = index * global_batch_;
  const size_t end = std::min(begin + global_batch_, order_.size());
  return std::vector<uint32_t>(order_.begin() + static_cast<std::ptrdiff_t>(begin),
                               order_.begin() + static_cast<std::ptrdiff_t>(end));
}

std::pair<size_t, size_t> BatchOrder::rank_slice(size_t batch_len, int rank, int world) {
  if (world < 1 || rank < 0 || rank >= world) {
    throw DataError("rank " + std::to_string(rank) + " is not in a world of " +
                    std::to_string(world) + " ranks");
  }
  const size_t w = static_cast<size_t>(world), r = static_cast<size_t>(rank);
  const size_t base = batch_len / w, extra = batch_len % w;
  const size_t begin = r * base + std::min(r, extra);
  return {begin, begin + base + (r < extra ? 1 : 0)};
}

}  // namespace rnn_dist::data
