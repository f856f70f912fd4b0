// Loss and accuracy of a model over a set of examples, computed by all ranks together.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "comm/communicator.h"
#include "trainer/data/encoding.h"
#include "trainer/data/prepared_dataset.h"
#include "trainer/model/model.h"
#include "trainer/train/loss.h"

namespace rnn_dist::train {

// Turns example ids into the model's time-major input: T = maxlen, or with a masking model the
// batch's longest example (masked padding changes nothing, so it need not be computed).
class BatchEncoder {
 public:
  BatchEncoder(const data::SequenceOptions& sequence, bool masked)
      : sequence_(sequence), masked_(masked) {}
  // Returns T; tokens() and labels() hold the batch until the next call.
  int encode(const data::SplitView& split, std::span<const std::uint32_t> ids);
  std::span<const std::int32_t> tokens() const { return tokens_; }
  std::span<const float> labels() const { return labels_; }

 private:
  data::SequenceOptions sequence_;
  bool masked_;
  std::vector<std::int32_t> tokens_;
  std::vector<float> labels_;
};

// Collective. `ids` is cut into batches of `batch_size` by position (the last one shorter), the
// same batches whatever the number of ranks; rank r evaluates a contiguous run of them
// (BatchOrder::rank_slice over the batches). A batch's logits are the same bits wherever it is
// computed, and the sums are exact (loss.h), so every rank gets totals that do not depend on
// the number of ranks at all.
MetricSums evaluate(model::Model& model, comm::Communicator& comm, const data::SplitView& split,
                    std::span<const std::uint32_t> ids, const data::SequenceOptions& sequence,
                    int batch_size);

}  // namespace rnn_dist::train
