#include "trainer/train/evaluate.h"

#include <algorithm>

#include "trainer/data/batch_order.h"

namespace rnn_dist::train {

int BatchEncoder::encode(const data::SplitView& split, std::span<const std::uint32_t> ids) {
  const int T = masked_ ? data::batch_time_steps(split, ids, sequence_.maxlen) : sequence_.maxlen;
  tokens_.resize(static_cast<std::size_t>(T) * ids.size());
  labels_.resize(ids.size());
  data::fill_batch(split, ids, sequence_, T, tokens_, labels_);
  return T;
}

MetricSums evaluate(model::Model& model, comm::Communicator& comm, const data::SplitView& split,
                    std::span<const std::uint32_t> ids, const data::SequenceOptions& sequence,
                    int batch_size) {
  const std::size_t chunk = static_cast<std::size_t>(std::max(1, batch_size));
  const std::size_t batches = (ids.size() + chunk - 1) / chunk;
  const auto [first, last] = data::BatchOrder::rank_slice(batches, comm.rank(), comm.size());
  BatchEncoder encoder(sequence, model.spec().mask_padding);
  std::vector<float> logits;
  MetricSums sums;
  for (std::size_t k = first; k < last; ++k) {
    const auto part = ids.subspan(k * chunk, std::min(chunk, ids.size() - k * chunk));
    const int T = encoder.encode(split, part);
    logits.resize(part.size());
    model.forward(encoder.tokens(), T, static_cast<int>(part.size()), logits);
    binary_cross_entropy(logits, encoder.labels(), 0.0f, {}, sums);
  }
  std::int64_t words[MetricSums::kWords];
  sums.to_words(words);
  comm.set_context("evaluation metric reduction");
  comm.allreduce_sum(std::span<std::int64_t>(words, MetricSums::kWords));
  return MetricSums::from_words(words);
}

}  // namespace rnn_dist::train
