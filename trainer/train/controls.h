// The training controls Keras users reach for, decided from the reduced (rank-independent)
// epoch metrics so that every rank takes the same decision without another collective:
//
//   EarlyStopping:     stop after `patience` epochs without improvement of the monitored
//                      metric (by more than min_delta); optionally restore the best weights.
//   ReduceLROnPlateau: multiply the learning rate by `factor` (not below min_lr) after
//                      `patience` epochs without improvement.
//   Warm-up:           lr(step) = lr * min(1, (step + 1) / warmup_steps) for the first steps,
//                      useful when a large global batch is spread over many ranks.
//
// The state is a function of the metric history, so a resumed run replays the history and
// takes the same decisions as an uninterrupted one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "trainer/train/history.h"

namespace rnn_dist::train {

struct ControlOptions {
  std::string monitor = "val_loss";  // val_loss (lower is better) or val_acc (higher)
  double min_delta = 0;
  int early_stopping_patience = 0;   // 0: off
  bool restore_best_weights = false;
  int reduce_lr_patience = 0;        // 0: off
  double reduce_lr_factor = 0.1;
  double min_lr = 0;
  std::uint64_t warmup_steps = 0;    // 0: off
};

class TrainingControls {
 public:
  TrainingControls(ControlOptions options, double base_lr);

  struct Decision {
    bool improved = false;     // the monitored metric is the best so far
    bool stop = false;         // early stopping triggered
    bool lr_reduced = false;
    std::string message;       // what happened, for the log ("" if nothing)
  };
  // Called once per finished epoch, in order, with rows that have validation metrics.
  Decision on_epoch_end(const EpochMetrics& row);
  // The learning rate of global step `step` (0-based): plateau-reduced rate times warm-up.
  double lr_for_step(std::uint64_t step) const;
  double current_lr() const { return lr_; }

 private:
  bool better(double value) const;
  ControlOptions options_;
  double lr_;
  bool has_best_ = false;
  double best_ = 0;
  int stop_wait_ = 0;
  int lr_wait_ = 0;
};

}  // namespace rnn_dist::train
