// The global batch order: which examples form global batch `step` of `epoch` (train/gradient_step.h
// cuts it into micro-batches that ranks and threads take). This is the contract that makes data-parallel training independent of the
// number of ranks and resumable at any step: the order is a function of (examples, global_batch,
// seed, epoch, bucketing) only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace rnn_dist::data {

// Length bucketing (for masked, variable-length batches): after the epoch's permutation, each
// window of window_batches * global_batch examples is stably sorted by length and cut into
// batches, and the order of all batches of the epoch is then shuffled. A global batch thus holds
// examples of similar lengths, and still a fixed set per (seed, epoch, step).
struct BucketOptions {
  std::vector<uint32_t> lengths;  // effective length of each example, indexed by example id
  int window_batches = 50;
};

class BatchOrder {
 public:
  // `examples`: the example ids to draw from (e.g. TrainValSplit::train); copied.
  // REQUIRES: global_batch >= 1; with bucketing, window_batches >= 1 and lengths covers every
  // example id. Throws DataError otherwise.
  BatchOrder(std::span<const uint32_t> examples, int global_batch, uint64_t seed,
             const BucketOptions* bucketing = nullptr);

  size_t num_examples() const { return examples_.size(); }
  int global_batch() const { return global_batch_; }
  // ceil(num_examples / global_batch): the last, partial batch is included.
  size_t num_batches() const { return num_batches_; }

  // The example ids of global batch `step` of `epoch` (global_batch of them, fewer for the last
  // batch). Every example appears in exactly one batch of an epoch. The first call for an epoch
  // builds its permutation (O(n)); later calls for the same epoch are O(batch).
  // REQUIRES: epoch >= 0, step < num_batches(). Not thread-safe (caches the current epoch).
  std::vector<uint32_t> batch(int epoch, size_t step);

  // [begin, end) of rank `rank`'s slice of a batch of `batch_len` examples among `world` ranks:
  // contiguous, disjoint, covering; sizes differ by at most one, the first batch_len % world ranks
  // get one more; a rank gets an empty slice when batch_len < world.
  // Throws DataError unless world >= 1 and 0 <= rank < world.
  static std::pair<size_t, size_t> rank_slice(size_t batch_len, int rank, int world);

 private:
  void build_epoch(int epoch);

  std::vector<uint32_t> examples_;
  int global_batch_;
  uint64_t seed_;
  bool bucketing_ = false;
  BucketOptions buckets_;
  size_t num_batches_;

  int cached_epoch_ = -1;
  std::vector<uint32_t> order_;              // the epoch's examples, in batch-cut order
  std::vector<uint32_t> batch_permutation_;  // step -> batch index into order_ (bucketing)
};

}  // namespace rnn_dist::data
