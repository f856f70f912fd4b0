// Binary cross-entropy on logits and accuracy at 0.5, as sums so that ranks can add them up.
#pragma once

#include <span>

namespace rnn_dist::train {

// Sums over examples; the mean is loss_sum / count. Reduced across ranks as three doubles.
struct MetricSums {
  double loss_sum = 0;
  double correct = 0;
  double count = 0;
  MetricSums& operator+=(const MetricSums& o) {
    loss_sum += o.loss_sum;
    correct += o.correct;
    count += o.count;
    return *this;
  }
  double loss() const { return count > 0 ? loss_sum / count : 0; }
  double accuracy() const { return count > 0 ? correct / count : 0; }
};

// For logit z and label y in {0, 1}:
//   loss = max(z, 0) - z*y + log(1 + exp(-|z|))   (= BCE(sigmoid(z), y) without overflow)
//   dloss/dz = sigmoid(z) - y
// Adds the per-example losses and correct predictions (sigmoid(z) > 0.5 <=> z > 0) to `sums`.
// If dlogits is non-empty, writes dlogits[i] = (sigmoid(z_i) - y_i) * grad_scale; training passes
// grad_scale = 1 / global_batch so that the rank's gradient is its share of the global mean.
void binary_cross_entropy(std::span<const float> logits, std::span<const float> labels,
                          float grad_scale, std::span<float> dlogits, MetricSums& sums);

}  // namespace rnn_dist::train
