// Binary cross-entropy on logits and accuracy at 0.5, as sums that ranks can add up exactly.
#pragma once

#include <cstdint>
#include <limits>
#include <span>

namespace rnn_dist::train {

// Sums over examples, in integers so that they add up to the same bits in any order (on any
// number of ranks and threads): each example's loss is rounded to a multiple of kLossQuantum
// (2^-32, i.e. 2.3e-10 per example; metrics print 4 decimals). The mean is loss_sum() / count.
struct MetricSums {
  static constexpr double kLossQuantum = 0x1p-32;
  // Losses at or above this (a logit beyond 1e9) count as not finite, so that a sum of up to
  // 2^31 examples cannot overflow.
  static constexpr double kLargestLoss = 0x1p30;
  static constexpr std::size_t kWords = 4;  // as int64 words, for all-reduces and checkpoints

  std::int64_t loss_quanta = 0;  // sum of round(loss / kLossQuantum)
  std::int64_t correct = 0;
  std::int64_t count = 0;
  std::int64_t nonfinite = 0;    // examples whose loss was not finite (or >= kLargestLoss)

  void add(double loss, bool is_correct);
  MetricSums& operator+=(const MetricSums& o) {
    loss_quanta += o.loss_quanta;
    correct += o.correct;
    count += o.count;
    nonfinite += o.nonfinite;
    return *this;
  }
  bool operator==(const MetricSums&) const = default;
  void to_words(std::int64_t* w) const {
    w[0] = loss_quanta;
    w[1] = correct;
    w[2] = count;
    w[3] = nonfinite;
  }
  static MetricSums from_words(const std::int64_t* w) { return MetricSums{w[0], w[1], w[2], w[3]}; }

  double loss_sum() const {
    return nonfinite > 0 ? std::numeric_limits<double>::quiet_NaN()
                         : double(loss_quanta) * kLossQuantum;
  }
  double loss() const { return count > 0 ? loss_sum() / double(count) : 0; }
  double accuracy() const { return count > 0 ? double(correct) / double(count) : 0; }
};

// For logit z and label y in {0, 1}:
//   loss = max(z, 0) - z*y + log(1 + exp(-|z|))   (= BCE(sigmoid(z), y) without overflow)
//   dloss/dz = sigmoid(z) - y
// Adds the per-example losses and correct predictions (sigmoid(z) > 0.5 <=> z > 0) to `sums`.
// If dlogits is non-empty, writes dlogits[i] = (sigmoid(z_i) - y_i) * grad_scale; training passes
// grad_scale = 1 / (examples in the global batch) so that the gradient is the batch mean's.
void binary_cross_entropy(std::span<const float> logits, std::span<const float> labels,
                          float grad_scale, std::span<float> dlogits, MetricSums& sums);

}  // namespace rnn_dist::train
