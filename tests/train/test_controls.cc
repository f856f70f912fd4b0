// Early stopping, LR reduction on plateau and warm-up, decided from epoch metrics.
#include <gtest/gtest.h>

#include "trainer/train/controls.h"

namespace rnn_dist::train {
namespace {

EpochMetrics row(int epoch, double val_loss, double val_acc = 0.5) {
  EpochMetrics r;
  r.epoch = epoch;
  r.has_val = true;
  r.val_loss = val_loss;
  r.val_acc = val_acc;
  return r;
}

TEST(EarlyStopping, StopsAfterPatienceEpochsWithoutImprovement) {
  ControlOptions o;
  o.early_stopping_patience = 2;
  TrainingControls c(o, 1e-3);
  EXPECT_TRUE(c.on_epoch_end(row(1, 0.50)).improved);
  EXPECT_TRUE(c.on_epoch_end(row(2, 0.40)).improved);
  EXPECT_FALSE(c.on_epoch_end(row(3, 0.45)).stop);  // one epoch without improvement
  EXPECT_TRUE(c.on_epoch_end(row(4, 0.30)).improved);  // the count starts again
  EXPECT_FALSE(c.on_epoch_end(row(5, 0.31)).stop);
  const auto stop = c.on_epoch_end(row(6, 0.30));  // equal is not better
  EXPECT_TRUE(stop.stop);
  EXPECT_NE(stop.message.find("EarlyStopping"), std::string::npos) << stop.message;
}

TEST(EarlyStopping, MonitorsValAccAsHigherIsBetter) {
  ControlOptions o;
  o.monitor = "val_acc";
  o.early_stopping_patience = 1;
  TrainingControls c(o, 1e-3);
  c.on_epoch_end(row(1, 9.0, 0.80));
  EXPECT_TRUE(c.on_epoch_end(row(2, 9.0, 0.85)).improved);
  EXPECT_TRUE(c.on_epoch_end(row(3, 0.1, 0.84)).stop);  // val_loss is ignored
}

TEST(EarlyStopping, MinDeltaIgnoresTinyImprovements) {
  ControlOptions o;
  o.early_stopping_patience = 1;
  o.min_delta = 0.01;
  TrainingControls c(o, 1e-3);
  c.on_epoch_end(row(1, 0.500));
  EXPECT_TRUE(c.on_epoch_end(row(2, 0.495)).stop);
}

TEST(ReduceLrOnPlateau, MultipliesTheRateAndRespectsTheFloor) {
  ControlOptions o;
  o.reduce_lr_patience = 1;
  o.reduce_lr_factor = 0.5;
  o.min_lr = 3e-4;
  TrainingControls c(o, 1e-3);
  c.on_epoch_end(row(1, 0.5));
  EXPECT_TRUE(c.on_epoch_end(row(2, 0.6)).lr_reduced);
  EXPECT_DOUBLE_EQ(c.current_lr(), 5e-4);
  EXPECT_TRUE(c.on_epoch_end(row(3, 0.6)).lr_reduced);
  EXPECT_DOUBLE_EQ(c.current_lr(), 3e-4);
  EXPECT_FALSE(c.on_epoch_end(row(4, 0.6)).lr_reduced);  // already at min_lr
  EXPECT_DOUBLE_EQ(c.lr_for_step(1000), 3e-4);
}

TEST(Warmup, RaisesTheRateLinearlyOverTheFirstSteps) {
  ControlOptions o;
  o.warmup_steps = 4;
  TrainingControls c(o, 1e-3);
  EXPECT_DOUBLE_EQ(c.lr_for_step(0), 0.25e-3);
  EXPECT_DOUBLE_EQ(c.lr_for_step(3), 1e-3);
  EXPECT_DOUBLE_EQ(c.lr_for_step(100), 1e-3);
}

TEST(TrainingControls, ReplayingTheHistoryReachesTheSameState) {
  ControlOptions o;
  o.reduce_lr_patience = 1;
  o.early_stopping_patience = 3;
  const std::vector<EpochMetrics> history{row(1, 0.5), row(2, 0.6), row(3, 0.55)};
  TrainingControls live(o, 1e-3), resumed(o, 1e-3);
  for (const auto& r : history) live.on_epoch_end(r);
  for (const auto& r : history) resumed.on_epoch_end(r);
  const auto a = live.on_epoch_end(row(4, 0.7));
  const auto b = resumed.on_epoch_end(row(4, 0.7));
  EXPECT_EQ(a.stop, b.stop);
  EXPECT_TRUE(a.stop);
  EXPECT_DOUBLE_EQ(live.current_lr(), resumed.current_lr());
}

}  // namespace
}  // namespace rnn_dist::train
