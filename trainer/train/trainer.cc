#include "trainer/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <thread>

#include "trainer/data/split.h"

namespace rnn_dist::train {

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

Trainer::Trainer(model::Model& model, optim::Optimizer& optimizer, comm::Communicator& comm,
                 const data::PreparedDataset& dataset, const data::SequenceOptions& sequence,
                 const TrainOptions& options, Progress* progress, const HistoryWriter* history)
    : model_(model),
      optimizer_(optimizer),
      comm_(comm),
      dataset_(dataset),
      sequence_(sequence),
      options_(options),
      progress_(progress),
      history_(history),
      controls_(options.controls, optimizer.config().lr) {
  const auto train = dataset_.split("train");
  auto split = data::make_validation_split(train.size(), options_.validation_split,
                                           data::kLoaderSeed);
  train_ids_ = std::move(split.train);
  val_ids_ = std::move(split.val);
  lengths_.resize(train.size());
  for (std::size_t i = 0; i < train.size(); ++i)
    lengths_[i] = static_cast<std::uint32_t>(data::effective_length(train.tokens(i), sequence_.maxlen));
  StepOptions step;
  step.batch_size = options_.batch_size;
  step.micro_batch = options_.micro_batch;
  step.threads = options_.threads;
  step.profile = options_.profile;
  step.float_sum = options_.float_sum;
  step_ = std::make_unique<GradientStep>(model_, comm_, train, lengths_, sequence_, step);
}

void Trainer::initialize_parameters() {
  if (comm_.rank() == 0) model_.init(options_.seed);
  comm_.set_context("initial parameter broadcast");
  comm_.broadcast(model_.params());
}

std::string Trainer::where(int epoch, std::size_t step) const {
  return "epoch " + std::to_string(epoch + 1) + " step " + std::to_string(step + 1) +
         " (global step " + std::to_string(global_step_ + 1) + ")";
}

void Trainer::train_step(std::span<const std::uint32_t> batch, int epoch, std::size_t step,
                         MetricSums& sums, StepTimes& times) {
  comm_.set_context("gradient all-reduce at " + where(epoch, step));
  const auto result =
      step_->compute(batch, times, [this] { fault_point(FaultPoint::kAllreduce); });
  sums += result.sums;

  const auto t0 = Clock::now();
  // Every rank holds the same reduced gradient and flag, so every rank takes the same decision
  // here without another collective.
  if (!result.finite) {
    if (!options_.skip_nonfinite)
      throw TrainingError("non-finite gradient at " + where(epoch, step) +
                          " (lower --lr, set --clip-norm, or --skip-nonfinite to skip such steps)");
    if (progress_)
      progress_->message("warning: skipped the update of " + where(epoch, step) +
                             ": non-finite gradient",
                         /*even_when_quiet=*/true);
  } else {
    if (optimizer_.config().clip_norm > 0)
      optim::clip_by_global_norm(model_.grads(), optimizer_.config().clip_norm);
    optimizer_.step(model_.params(), model_.grads(), controls_.lr_for_step(global_step_));
  }
  times.compute += since(t0);
  if (options_.check_replicas) check_replicas(epoch, step);
}

void Trainer::check_replicas(int epoch, std::size_t step) {
  const std::uint64_t mine = model::hash_floats(model_.params());
  std::uint64_t root = mine;
  comm_.set_context("replica check at " + where(epoch, step));
  comm_.broadcast(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(&root), sizeof root));
  if (comm_.any(root != mine)) {
    throw TrainingError("replicas diverged after " + where(epoch, step) + ": rank " +
                        std::to_string(comm_.rank()) + " parameter hash " + std::to_string(mine) +
                        (root != mine ? " differs from rank 0's" : " matches rank 0's"));
  }
}

MetricSums Trainer::evaluate(const data::SplitView& split, std::span<const std::uint32_t> ids) {
  return train::evaluate(model_, comm_, split, ids, sequence_, options_.eval_batch_size);
}

void Trainer::resume(const pb::TrainingState& state) {
  start_epoch_ = state.epoch();
  start_step_ = state.step_in_epoch();
  global_step_ = state.global_step();
  if (state.has_epoch_loss_quanta()) {
    start_sums_ = MetricSums{state.epoch_loss_quanta(), static_cast<std::int64_t>(state.epoch_correct()),
                             static_cast<std::int64_t>(state.epoch_count()), state.epoch_nonfinite()};
  } else {  // written before the sums were exact
    start_sums_ = MetricSums{std::llround(state.epoch_loss_sum() / MetricSums::kLossQuantum),
                             static_cast<std::int64_t>(state.epoch_correct()),
                             static_cast<std::int64_t>(state.epoch_count()), 0};
  }
  start_examples_ = state.epoch_examples();
  history_rows_.clear();
  for (const auto& h : state.history()) {
    EpochMetrics row;
    row.epoch = h.epoch();
    row.loss = h.loss();
    row.acc = h.acc();
    row.val_loss = h.val_loss();
    row.val_acc = h.val_acc();
    row.has_val = !val_ids_.empty();
    row.seconds = h.seconds();
    row.examples_per_second = h.examples_per_second();
    history_rows_.push_back(row);
  }
  // The controls' state is a function of the history: replay it.
  for (const auto& row : history_rows_) controls_.on_epoch_end(row);
}

pb::TrainingState Trainer::state_at(int epoch, std::size_t step, const MetricSums& sums,
                                    std::uint64_t examples) const {
  pb::TrainingState s;
  s.set_epoch(epoch);
  s.set_step_in_epoch(step);
  s.set_global_step(global_step_);
  s.set_seed(options_.seed);
  s.set_world_size(comm_.size());
  s.set_batch_size(options_.batch_size);
  s.set_validation_split(options_.validation_split);
  for (const auto& r : history_rows_) {
    auto* h = s.add_history();
    h->set_epoch(r.epoch);
    h->set_loss(r.loss);
    h->set_acc(r.acc);
    h->set_val_loss(r.val_loss);
    h->set_val_acc(r.val_acc);
    h->set_seconds(r.seconds);
    h->set_examples_per_second(r.examples_per_second);
  }
  s.set_epoch_loss_sum(sums.loss_sum());
  s.set_epoch_correct(static_cast<double>(sums.correct));
  s.set_epoch_count(static_cast<double>(sums.count));
  s.set_epoch_loss_quanta(sums.loss_quanta);
  s.set_epoch_nonfinite(sums.nonfinite);
  s.set_epoch_examples(examples);
  return s;
}

void Trainer::checkpoint(int epoch, std::size_t step, const MetricSums& sums,
                         std::uint64_t examples, bool epoch_end) {
  // Already written at this step (e.g. a stop request right after a --checkpoint-every step
  // or an epoch's end).
  if (last_checkpoint_step_ == global_step_) return;
  last_checkpoint_step_ = global_step_;
  const auto state = state_at(epoch, step, sums, examples);
  // The checkpoint fault point: on rank 0 while it writes (temporary file complete, not yet
  // renamed), on the others at the same moment.
  if (!checkpointer_) return fault_point(FaultPoint::kCheckpoint);
  last_checkpoint_ = checkpointer_->save(model_, optimizer_, state,
                                         [this] { fault_point(FaultPoint::kCheckpoint); });
  if (epoch_end && history_rows_.back().has_val) {
    const auto& row = history_rows_.back();
    checkpointer_->save_if_best(model_, optimizer_, state, row.val_loss, row.val_acc);
  }
}

Trainer::Stop Trainer::stop_before(int epoch, std::size_t step) {
  if (stop_requested_) {
    comm_.set_context("stop agreement at " + where(epoch, step));
    if (comm_.any(stop_requested_())) return Stop::kRequest;
  }
  if (options_.max_steps > 0 && global_step_ >= options_.max_steps) return Stop::kMaxSteps;
  return Stop::kNone;
}

FitStatus Trainer::fit() {
  std::unique_ptr<data::BucketOptions> bucketing;
  if (model_.spec().mask_padding) {
    bucketing = std::make_unique<data::BucketOptions>();
    bucketing->lengths = lengths_;
  }
  data::BatchOrder order(train_ids_, options_.batch_size, options_.seed, bucketing.get());
  const std::size_t steps = order.num_batches();
  for (int epoch = start_epoch_; epoch < options_.epochs; ++epoch) {
    EpochRun run;
    run.start = Clock::now();
    if (progress_) progress_->begin_epoch(epoch, options_.epochs, steps);
    std::size_t first = 0;
    if (epoch == start_epoch_ && start_step_ > 0) {
      first = start_step_;
      run.sums = start_sums_;  // the whole batch's sums, on every rank
      run.examples = start_examples_;
      if (progress_)
        progress_->message("resuming at step " + std::to_string(first + 1) + " of " +
                           std::to_string(steps));
    }
    for (std::size_t s = first; s < steps; ++s) {
      if (const Stop stop = stop_before(epoch, s); stop != Stop::kNone) {
        // At --max-steps the partial epoch's line first: its examples/s is the training's,
        // without the checkpoint's write and fsync (as at the end of a whole epoch).
        if (stop == Stop::kMaxSteps) finish_epoch(epoch, run, /*partial=*/true);
        checkpoint(epoch, s, run.sums, run.examples);
        if (stop == Stop::kMaxSteps) return FitStatus::kMaxSteps;
        if (progress_)
          progress_->message("stopping on request after global step " +
                                 std::to_string(global_step_) + " (epoch " +
                                 std::to_string(epoch + 1) + ", " + std::to_string(s) + " of " +
                                 std::to_string(steps) + " steps done)" +
                                 (last_checkpoint_.empty() ? "" : "; checkpoint " + last_checkpoint_) +
                                 "; continue with --resume auto",
                             true);
        return FitStatus::kStopped;
      }
      fault_point(FaultPoint::kStep);
      const auto batch = order.batch(epoch, s);
      train_step(batch, epoch, s, run.sums, run.times);
      ++global_step_;
      run.examples += batch.size();
      run.examples_this_run += batch.size();
      if (progress_) progress_->update(s + 1, run.examples, run.sums.loss(), run.sums.accuracy());
      if (tensorboard_) tensorboard_->on_step(global_step_, run.sums.loss(), run.sums.accuracy());
      if (options_.checkpoint_every > 0 && global_step_ % options_.checkpoint_every == 0 &&
          s + 1 < steps)
        checkpoint(epoch, s + 1, run.sums, run.examples);
    }
    finish_epoch(epoch, run, /*partial=*/false);
    const bool stop = apply_controls();
    checkpoint(epoch + 1, 0, MetricSums{}, 0, /*epoch_end=*/true);
    if (stop) return FitStatus::kEarlyStopped;
    if (options_.max_steps > 0 && global_step_ >= options_.max_steps) return FitStatus::kMaxSteps;
  }
  return FitStatus::kCompleted;
}

bool Trainer::apply_controls() {
  const auto decision = controls_.on_epoch_end(history_rows_.back());
  const auto& c = options_.controls;
  if (decision.improved && c.restore_best_weights)
    best_params_.assign(model_.params().begin(), model_.params().end());
  if (!decision.message.empty() && progress_) progress_->message(decision.message);
  if (!decision.stop) return false;
  if (c.restore_best_weights && !best_params_.empty()) {
    std::copy(best_params_.begin(), best_params_.end(), model_.params().begin());
    if (progress_) progress_->message("EarlyStopping: restored the weights of the best epoch");
  }
  return true;
}

void Trainer::finish_epoch(int epoch, const EpochRun& run, bool partial) {
  // Training metrics over the epoch (so far): already the sums of every rank.
  fault_point(FaultPoint::kEpochEnd);
  const MetricSums& train = run.sums;
  const double train_seconds = since(run.start);

  EpochMetrics row;
  row.epoch = epoch + 1;
  row.loss = train.loss();
  row.acc = train.accuracy();
  if (!val_ids_.empty()) {
    fault_point(FaultPoint::kValidation);
    const auto val = evaluate(dataset_.split("train"), val_ids_);
    row.has_val = true;
    row.val_loss = val.loss();
    row.val_acc = val.accuracy();
  }
  row.seconds = since(run.start);
  row.examples_per_second = double(run.examples_this_run) / std::max(1e-9, train_seconds);
  if (progress_) {
    progress_->end_epoch(row.loss, row.acc, row.val_loss, row.val_acc, row.has_val, row.seconds,
                         row.examples_per_second);
    if (partial)
      progress_->message("stopped at --max-steps " + std::to_string(options_.max_steps) +
                         " (global step " + std::to_string(global_step_) + "); this partial epoch is "
                         "not recorded in the history");
  }
  report_times(run.times);
  if (partial) return;
  history_rows_.push_back(row);
  if (history_) history_->write(history_rows_);
  // The learning rate of the epoch's last step (a plateau reduction applies from the next one).
  if (tensorboard_)
    tensorboard_->on_epoch(global_step_, row, controls_.lr_for_step(global_step_ - 1));
}

void Trainer::report_times(const StepTimes& times) {
  // Where the time went: slowest rank and mean over ranks. The all-reduce includes waiting for
  // slower ranks unless --profile measured that wait separately.
  // And the micro-batches the busiest and the least busy rank computed (take_work shares them
  // among a node's ranks as each becomes free).
  const auto taken = static_cast<double>(times.micro_batches);
  double mx[6] = {times.data, times.compute, times.comm, times.wait, taken, -taken};
  double mean[4] = {times.data, times.compute, times.comm, times.wait};
  comm_.set_context("time split reduction");
  comm_.allreduce_max(std::span<double>(mx, 6));
  comm_.allreduce_sum(std::span<double>(mean, 4));
  for (double& m : mean) m /= comm_.size();
  if (!progress_) return;
  const double total = std::max(1e-9, mean[0] + mean[1] + mean[2] + mean[3]);
  char line[320];
  if (options_.profile) {
    std::snprintf(line, sizeof line,
                  "  time split (mean / slowest rank): compute %.2fs / %.2fs, waiting for slower "
                  "ranks %.2fs / %.2fs (%.1f%%), all-reduce %.3fs / %.3fs (%.1f%% of the step), "
                  "data %.2fs / %.2fs; micro-batches per rank %.0f to %.0f",
                  mean[1], mx[1], mean[3], mx[3], 100.0 * mean[3] / total, mean[2], mx[2],
                  100.0 * mean[2] / total, mean[0], mx[0], -mx[5], mx[4]);
  } else {
    std::snprintf(line, sizeof line,
                  "  time split (mean / slowest rank): compute %.1fs / %.1fs, all-reduce incl. "
                  "waiting %.2fs / %.2fs (%.1f%% of the step), data %.2fs / %.2fs",
                  mean[1], mx[1], mean[2], mx[2], 100.0 * mean[2] / total, mean[0], mx[0]);
  }
  progress_->message(line, /*even_when_quiet=*/options_.profile);
}

}  // namespace rnn_dist::train
