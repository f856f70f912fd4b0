#include "trainer/train/loss.h"

#include <cmath>

namespace rnn_dist::train {

void binary_cross_entropy(std::span<const float> logits, std::span<const float> labels,
                          float grad_scale, std::span<float> dlogits, MetricSums& sums) {
  for (std::size_t i = 0; i < logits.size(); ++i) {
    const double z = logits[i];
    const double y = labels[i];
    sums.loss_sum += std::max(z, 0.0) - z * y + std::log1p(std::exp(-std::abs(z)));
    sums.correct += ((z > 0) == (y > 0.5)) ? 1 : 0;
    if (!dlogits.empty()) {
      const double p = 1.0 / (1.0 + std::exp(-z));
      dlogits[i] = static_cast<float>((p - y) * grad_scale);
    }
  }
  sums.count += static_cast<double>(logits.size());
}

}  // namespace rnn_dist::train
