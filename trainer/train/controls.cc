#include "trainer/train/controls.h"

#include <algorithm>
#include <cstdio>

namespace rnn_dist::train {

TrainingControls::TrainingControls(ControlOptions options, double base_lr)
    : options_(std::move(options)), lr_(base_lr) {}

bool TrainingControls::better(double value) const {
  if (!has_best_) return true;
  return options_.monitor == "val_acc" ? value > best_ + options_.min_delta
                                       : value < best_ - options_.min_delta;
}

TrainingControls::Decision TrainingControls::on_epoch_end(const EpochMetrics& row) {
  Decision d;
  if (!row.has_val) return d;
  const double value = options_.monitor == "val_acc" ? row.val_acc : row.val_loss;
  char text[200];
  if (better(value)) {
    has_best_ = true;
    best_ = value;
    stop_wait_ = lr_wait_ = 0;
    d.improved = true;
    return d;
  }
  ++stop_wait_;
  ++lr_wait_;
  if (options_.reduce_lr_patience > 0 && lr_wait_ >= options_.reduce_lr_patience &&
      lr_ > options_.min_lr) {
    const double old = lr_;
    lr_ = std::max(options_.min_lr, lr_ * options_.reduce_lr_factor);
    lr_wait_ = 0;
    d.lr_reduced = true;
    std::snprintf(text, sizeof text, "ReduceLROnPlateau: %s did not improve for %d epoch(s); lr %g -> %g",
                  options_.monitor.c_str(), options_.reduce_lr_patience, old, lr_);
    d.message = text;
  }
  if (options_.early_stopping_patience > 0 && stop_wait_ >= options_.early_stopping_patience) {
    d.stop = true;
    std::snprintf(text, sizeof text, "EarlyStopping: %s did not improve for %d epoch(s) (best %.4f)",
                  options_.monitor.c_str(), options_.early_stopping_patience, best_);
    d.message += (d.message.empty() ? "" : "; ") + std::string(text);
  }
  return d;
}

double TrainingControls::lr_for_step(std::uint64_t step) const {
  if (options_.warmup_steps == 0 || step >= options_.warmup_steps) return lr_;
  return lr_ * double(step + 1) / double(options_.warmup_steps);
}

}  // namespace rnn_dist::train
