// Data-parallel training of one model replica per rank. --batch-size is the GLOBAL batch: every
// step's batch is the same set of examples whatever the number of ranks, its loss is the mean
// over those examples, and the order of examples is a function of (seed, epoch) alone, so a run
// can stop at any step and resume on the same or another number of ranks.
//
// Every step: GradientStep (gradient_step.h) computes the gradient of global batch s
// (data::BatchOrder) with all ranks and threads, the same bits on every rank and for any number
// of ranks and threads, and every rank applies the same optimizer step, so replicas stay
// identical. Metrics are exact sums over all ranks (loss.h): the same on any number of ranks.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "trainer/data/batch_order.h"
#include "trainer/data/encoding.h"
#include "trainer/data/prepared_dataset.h"
#include "trainer/model/model.h"
#include "trainer/optim/optimizer.h"
#include "trainer/train/checkpointer.h"
#include "trainer/train/controls.h"
#include "trainer/train/evaluate.h"
#include "trainer/train/gradient_step.h"
#include "trainer/train/history.h"
#include "trainer/train/loss.h"
#include "trainer/train/progress.h"
#include "trainer/train/tensorboard.h"

namespace rnn_dist::train {

struct TrainOptions {
  int epochs = 10;
  int batch_size = 128;            // global batch
  double validation_split = 0.2;
  std::uint64_t seed = 1337;       // initial parameters and the per-epoch example order
  std::uint64_t max_steps = 0;     // stop after this many global steps (0 = no limit)
  int eval_batch_size = 256;       // examples per evaluation batch (evaluate.h)
  bool check_replicas = false;     // compare a parameter hash across ranks after every step
  bool skip_nonfinite = false;     // skip an update whose gradient is not finite, else stop
  bool profile = false;            // print the time split every epoch even when quiet
  int threads = 0;                 // threads per rank (a model replica each); 0, the command
                                   // line's "choose from the cores", must be resolved first
  int micro_batch = 16;            // examples per micro-batch (gradient_step.h)
  bool float_sum = false;          // test only: StepOptions::float_sum
  std::uint64_t checkpoint_every = 0;  // also checkpoint every N global steps (0: epoch ends only)
  ControlOptions controls;         // early stopping, LR on plateau, warm-up
};

enum class FitStatus { kCompleted, kMaxSteps, kStopped, kEarlyStopped };

// Thrown when training cannot go on (non-finite loss/gradient, replicas diverged); the message
// names the epoch and step.
class TrainingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Trainer {
 public:
  // All references must outlive the Trainer. progress may be null (ranks other than 0).
  Trainer(model::Model& model, optim::Optimizer& optimizer, comm::Communicator& comm,
          const data::PreparedDataset& dataset, const data::SequenceOptions& sequence,
          const TrainOptions& options, Progress* progress, const HistoryWriter* history);

  // Rank 0 initialises the parameters from the seed and broadcasts them to every rank.
  void initialize_parameters();
  // Continues from a checkpoint's training state (parameters and optimizer state are restored
  // by the caller on every rank): position in the data order, metric history, partial sums.
  void resume(const pb::TrainingState& state);
  // Rank 0's checkpoint folder (null on the other ranks, which pass the checkpoint fault point
  // when rank 0 writes).
  void set_checkpointer(Checkpointer* checkpointer) { checkpointer_ = checkpointer; }
  // Rank 0's TensorBoard events file (null: none, and on the other ranks): fed next to the
  // history, with the step summaries and every whole epoch's row.
  void set_tensorboard(TensorBoardWriter* writer) { tensorboard_ = writer; }
  // Polled at every step boundary on every rank; when it returns true on any rank, all ranks
  // stop there together after a checkpoint (SIGTERM/SIGINT from Slurm or the user).
  void set_stop_request(bool (*requested)()) { stop_requested_ = requested; }
  // Fault injection for the failure tests (cli/fault_injection.h): called on this rank at each
  // of these points with the number of global steps done and the parameters.
  enum class FaultPoint {
    kStep,        // before a training step
    kAllreduce,   // just before the step's gradient all-reduce
    kEpochEnd,    // at an epoch's end, before its metric reduction
    kValidation,  // at an epoch's end, before the validation pass
    kCheckpoint,  // while rank 0 writes a checkpoint (its temporary file complete, not renamed)
  };
  using FaultHook = std::function<void(FaultPoint, std::uint64_t, std::span<float>)>;
  void set_fault_hook(FaultHook hook) { fault_hook_ = std::move(hook); }

  // Trains for options.epochs (or until max_steps, or a stop request). The history (one row per
  // epoch, the same on every rank) is history().
  FitStatus fit();
  const std::vector<EpochMetrics>& history() const { return history_rows_; }
  // The path of the last checkpoint written (rank 0), "" if none.
  const std::string& last_checkpoint() const { return last_checkpoint_; }
  // Loss and accuracy over the examples `ids` of `split`, evaluated by all ranks in fixed
  // batches (evaluate.h); every rank gets the exact sums.
  MetricSums evaluate(const data::SplitView& split, std::span<const std::uint32_t> ids);

  std::span<const std::uint32_t> validation_ids() const { return val_ids_; }
  std::uint64_t global_step() const { return global_step_; }

 private:
  void train_step(std::span<const std::uint32_t> batch, int epoch, std::size_t step,
                  MetricSums& sums, StepTimes& times);
  void check_replicas(int epoch, std::size_t step);
  void report_times(const StepTimes& times);
  // One epoch's running state.
  struct EpochRun {
    std::chrono::steady_clock::time_point start;
    MetricSums sums;
    StepTimes times;
    std::uint64_t examples = 0;           // in the epoch, including a resumed part
    std::uint64_t examples_this_run = 0;  // trained by this process (for examples/s)
  };
  // Reduces the epoch's metrics, evaluates the validation split, reports; a full epoch is also
  // appended to the history (and history files).
  void finish_epoch(int epoch, const EpochRun& run, bool partial);
  // Early stopping / LR plateau after a full epoch; returns true to stop.
  bool apply_controls();
  std::string where(int epoch, std::size_t step) const;
  // Why training stops before step `step` of `epoch` (kNone: it goes on). Collective (the ranks
  // agree on a stop request).
  enum class Stop { kNone, kRequest, kMaxSteps };
  Stop stop_before(int epoch, std::size_t step);
  // The training state at a step boundary (sums: the epoch's so far, already over all ranks).
  pb::TrainingState state_at(int epoch, std::size_t step, const MetricSums& sums,
                             std::uint64_t examples) const;
  // The one place checkpoints are taken: at most once per global step; rank 0 writes (the
  // others pass the checkpoint fault point). epoch_end: the state is the start of the next
  // epoch, and the best-so-far checkpoint is updated too.
  void checkpoint(int epoch, std::size_t step, const MetricSums& sums, std::uint64_t examples,
                  bool epoch_end = false);

  model::Model& model_;
  optim::Optimizer& optimizer_;
  comm::Communicator& comm_;
  const data::PreparedDataset& dataset_;
  data::SequenceOptions sequence_;
  TrainOptions options_;
  Progress* progress_;
  const HistoryWriter* history_;

  std::vector<std::uint32_t> train_ids_, val_ids_;
  std::vector<std::uint32_t> lengths_;  // effective length of every train example (bucketing,
                                        // balancing the ranks' and threads' work)
  std::unique_ptr<GradientStep> step_;
  std::vector<EpochMetrics> history_rows_;
  std::uint64_t global_step_ = 0;
  int start_epoch_ = 0;
  std::size_t start_step_ = 0;
  MetricSums start_sums_;
  std::uint64_t start_examples_ = 0;
  Checkpointer* checkpointer_ = nullptr;
  TensorBoardWriter* tensorboard_ = nullptr;
  bool (*stop_requested_)() = nullptr;
  FaultHook fault_hook_;
  void fault_point(FaultPoint point) {
    if (fault_hook_) fault_hook_(point, global_step_, model_.params());
  }
  TrainingControls controls_;
  std::vector<float> best_params_;  // with restore_best_weights
  std::string last_checkpoint_;
  std::uint64_t last_checkpoint_step_ = ~std::uint64_t{0};
};

}  // namespace rnn_dist::train
