#include "trainer/model/recurrent.h"

#include <stdexcept>

namespace rnn_dist::model {

void PackedLayout::set_full(int steps, int batch) {
  if (steps < 1 || batch < 1)
    throw std::invalid_argument("PackedLayout: T and B must be >= 1, got T " +
                                std::to_string(steps) + ", B " + std::to_string(batch));
  T = steps;
  B = batch;
  width.assign(std::size_t(T) + 1, B);
  offset.resize(std::size_t(T) + 1);
  for (int t = 0; t <= T; ++t) offset[t] = Eigen::Index(t) * B;
}

void PackedLayout::set(int steps, int batch, std::span<const int> step_widths) {
  if (steps < 1 || batch < 1 || step_widths.size() != std::size_t(steps))
    throw std::invalid_argument("PackedLayout: T " + std::to_string(steps) + ", B " +
                                std::to_string(batch) + " with " +
                                std::to_string(step_widths.size()) + " step widths");
  T = steps;
  B = batch;
  width.assign(step_widths.begin(), step_widths.end());
  finish();
}

void PackedLayout::set_shared_prefix(int steps, int batch, std::span<const int> started) {
  if (steps < 1 || batch < 1 || started.size() != std::size_t(steps))
    throw std::invalid_argument("PackedLayout: T " + std::to_string(steps) + ", B " +
                                std::to_string(batch) + " with " + std::to_string(started.size()) +
                                " started counts");
  T = steps;
  B = batch;
  width.resize(started.size());
  for (std::size_t t = 0; t < started.size(); ++t)
    width[t] = started[t] + (started[t] < batch ? 1 : 0);
  finish();
}

// width holds the T step widths: checks them, appends width[T] = B, computes the offsets.
void PackedLayout::finish() {
  offset.resize(std::size_t(T) + 1);
  Eigen::Index total = 0;
  for (int t = 0; t < T; ++t) {
    const int w = width[t];
    const int low = t == 0 ? 1 : width[t - 1];
    if (w < low || w > B)
      throw std::invalid_argument("PackedLayout: width " + std::to_string(w) + " at step " +
                                  std::to_string(t) + " is outside [" + std::to_string(low) + ", " +
                                  std::to_string(B) + "]");
    offset[t] = total;
    total += w;
  }
  width.push_back(B);
  offset[T] = total;
}

}  // namespace rnn_dist::model
