// Rank 0's checkpoint folder: numbered checkpoints every N steps and at each epoch's end, the
// newest K kept, and best.rnnd for the best validation metric (Keras ModelCheckpoint with
// save_best_only); plus finding the newest valid checkpoint to resume from and restoring a
// model and optimizer from one.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "rnn_dist.pb.h"
#include "trainer/data/encoding.h"
#include "trainer/model/model.h"
#include "trainer/optim/optimizer.h"
#include "trainer/train/checkpoint_file.h"

namespace rnn_dist::train {

// What a checkpoint holds besides parameters, optimizer state and training state: set once per run.
struct CheckpointContext {
  pb::ModelSpec model;
  pb::PipelineSpec pipeline;
  pb::Vocabulary vocabulary;
  std::string config;  // effective configuration text
};

pb::ModelSpec to_proto(const model::ModelSpec& spec);
model::ModelSpec from_proto(const pb::ModelSpec& proto);
// How a checkpoint's model turns text into ids: its num_words and its pipeline's maxlen, padding
// and truncating. Throws data::DataError for a pipeline it cannot read.
data::SequenceOptions sequence_of(const pb::Checkpoint& checkpoint);
// The options that give `spec`: "--layers lstm:32 --embed 32 --num-words 10000" (and
// " --mask-padding"), for messages about a checkpoint of another model.
std::string model_options(const model::ModelSpec& spec);

// Builds a checkpoint message of the model's parameters and the optimizer's state.
pb::Checkpoint make_checkpoint(const CheckpointContext& context, const model::Model& model,
                               optim::Optimizer& optimizer, const pb::TrainingState& state);
// Copies parameters (and, if optimizer is non-null, the optimizer state) from a checkpoint.
// Throws CheckpointError naming `source` when the checkpoint's model does not match `model`
// (different spec, tensor names or shapes) or the optimizer differs.
void restore(const pb::Checkpoint& checkpoint, const std::string& source, model::Model& model,
             optim::Optimizer* optimizer);

class Checkpointer {
 public:
  // keep: newest checkpoints kept (>= 1). best_metric: "val_acc" (higher is better),
  // "val_loss" (lower is better) or "" for no best checkpoint.
  Checkpointer(std::string dir, int keep, std::string best_metric, CheckpointContext context);

  // Writes ckpt-<global step>.rnnd and removes the oldest beyond `keep`. Returns the path.
  // `before_rename`: see write_checkpoint_file. A failed write throws CheckpointError saying
  // which earlier checkpoint is left, or that there is none.
  std::string save(const model::Model& model, optim::Optimizer& optimizer,
                   const pb::TrainingState& state, const std::function<void()>& before_rename = {});
  // After an epoch with validation metrics: writes best.rnnd if `value` of the chosen metric is
  // the best so far (the best so far is read back from the history on resume).
  bool save_if_best(const model::Model& model, optim::Optimizer& optimizer,
                    const pb::TrainingState& state, double val_loss, double val_acc);

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  int keep_;
  std::string best_metric_;
  CheckpointContext context_;
  std::optional<double> best_;
};

// Numbered checkpoints in `dir`, newest (highest step) first.
std::vector<std::string> list_checkpoints(const std::string& dir);
// The newest checkpoint in `dir` that reads and verifies; a damaged newer one is skipped with a
// call to warn(message). Returns "" when there is none.
std::string find_latest_valid(const std::string& dir, const std::function<void(const std::string&)>& warn,
                              pb::Checkpoint* out);

}  // namespace rnn_dist::train
