#include "trainer/train/loss.h"

#include <cmath>

namespace rnn_dist::train {

void MetricSums::add(double loss, bool is_correct) {
  ++count;
  correct += is_correct ? 1 : 0;
  if (!(std::abs(loss) < kLargestLoss)) {  // NaN too
    ++nonfinite;
    return;
  }
  loss_quanta += std::llround(loss / kLossQuantum);
}

void binary_cross_entropy(std::span<const float> logits, std::span<const float> labels,
                          float grad_scale, std::span<float> dlogits, MetricSums& sums) {
  for (std::size_t i = 0; i < logits.size(); ++i) {
    const double z = logits[i];
    const double y = labels[i];
    sums.add(std::max(z, 0.0) - z * y + std::log1p(std::exp(-std::abs(z))), (z > 0) == (y > 0.5));
    if (!dlogits.empty()) {
      const double p = 1.0 / (1.0 + std::exp(-z));
      dlogits[i] = static_cast<float>((p - y) * grad_scale);
    }
  }
}

}  // namespace rnn_dist::train
