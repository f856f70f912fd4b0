#include "trainer/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "trainer/data/split.h"

namespace rnn_dist::train {

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The loader's fixed shuffle before the validation split, as keras.datasets.imdb's seed=113:
// the split is the same whatever --seed is.
constexpr std::uint64_t kLoaderSeed = 113;

bool all_finite(std::span<const float> v) {
  float acc = 0;
  for (float x : v) acc += x * 0.0f;  // NaN or inf anywhere makes acc NaN
  return acc == 0.0f;
}

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
      history_(history) {
  const auto train = dataset_.split("train");
  auto split = data::make_validation_split(train.size(), options_.validation_split, kLoaderSeed);
  train_ids_ = std::move(split.train);
  val_ids_ = std::move(split.val);
  if (model_.spec().mask_padding) {
    lengths_.resize(train.size());
    for (std::size_t i = 0; i < train.size(); ++i)
      lengths_[i] = static_cast<std::uint32_t>(data::effective_length(train.tokens(i), sequence_.maxlen));
  }
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

int Trainer::encode(const data::SplitView& split, std::span<const std::uint32_t> ids) {
  const int B = static_cast<int>(ids.size());
  int T = sequence_.maxlen;
  if (model_.spec().mask_padding) {
    // Masked padding changes nothing, so a batch only needs as many steps as its longest example.
    T = 1;
    for (auto id : ids) T = std::max(T, data::effective_length(split.tokens(id), sequence_.maxlen));
  }
  tokens_.resize(static_cast<std::size_t>(T) * B);
  labels_.resize(static_cast<std::size_t>(B));
  data::encode_batch(split, ids, sequence_, T, tokens_.data(), labels_.data());
  return T;
}

void Trainer::train_step(std::span<const std::uint32_t> slice, int epoch, std::size_t step,
                         MetricSums& sums, StepTimes& times) {
  auto t0 = Clock::now();
  const auto split = dataset_.split("train");
  const int B = static_cast<int>(slice.size());
  model_.zero_grads();
  int T = 0;
  if (B > 0) T = encode(split, slice);
  times.data += since(t0);

  t0 = Clock::now();
  if (B > 0) {
    logits_.resize(std::size_t(B));
    dlogits_.resize(std::size_t(B));
    model_.forward(tokens_, T, B, logits_);
    binary_cross_entropy(logits_, labels_, 1.0f / float(options_.batch_size), dlogits_, sums);
    model_.backward(dlogits_);
  }
  times.compute += since(t0);

  t0 = Clock::now();
  comm_.set_context("gradient all-reduce at " + where(epoch, step));
  comm_.allreduce_sum(model_.grads());
  times.comm += since(t0);

  t0 = Clock::now();
  // Every rank holds the same reduced gradient, so every rank takes the same decision here
  // without another collective.
  if (!all_finite(model_.grads())) {
    if (!options_.skip_nonfinite)
      throw TrainingError("non-finite gradient at " + where(epoch, step) +
                          " (lower --lr, set --clip-norm, or --skip-nonfinite to skip such steps)");
    if (progress_) progress_->message("warning: skipped the update of " + where(epoch, step) +
                                      ": non-finite gradient");
  } else {
    if (optimizer_.config().clip_norm > 0)
      optim::clip_by_global_norm(model_.grads(), optimizer_.config().clip_norm);
    optimizer_.step(model_.params(), model_.grads(), optimizer_.config().lr);
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
  const auto [begin, end] = data::BatchOrder::rank_slice(ids.size(), comm_.rank(), comm_.size());
  MetricSums sums;
  const std::size_t chunk = static_cast<std::size_t>(std::max(1, options_.eval_batch_size));
  for (std::size_t i = begin; i < end; i += chunk) {
    const auto part = ids.subspan(i, std::min(chunk, end - i));
    const int T = encode(split, part);
    logits_.resize(part.size());
    model_.forward(tokens_, T, static_cast<int>(part.size()), logits_);
    binary_cross_entropy(logits_, labels_, 0.0f, {}, sums);
  }
  double v[3] = {sums.loss_sum, sums.correct, sums.count};
  comm_.set_context("evaluation metric reduction");
  comm_.allreduce_sum(std::span<double>(v, 3));
  return MetricSums{v[0], v[1], v[2]};
}

const std::vector<EpochMetrics>& Trainer::fit() {
  std::unique_ptr<data::BucketOptions> bucketing;
  if (model_.spec().mask_padding) {
    bucketing = std::make_unique<data::BucketOptions>();
    bucketing->lengths = lengths_;
  }
  data::BatchOrder order(train_ids_, options_.batch_size, options_.seed, bucketing.get());
  const auto split = dataset_.split("train");
  const auto val_split = dataset_.split("train");
  bool stop = false;
  for (int epoch = 0; epoch < options_.epochs && !stop; ++epoch) {
    const auto t_epoch = Clock::now();
    const std::size_t steps = order.num_batches();
    if (progress_) progress_->begin_epoch(epoch, options_.epochs, steps);
    MetricSums sums;
    StepTimes times;
    std::size_t done = 0, examples = 0;
    for (std::size_t s = 0; s < steps; ++s) {
      if (options_.max_steps > 0 && global_step_ >= options_.max_steps) {
        stop = true;
        break;
      }
      const auto batch = order.batch(epoch, s);
      const auto [b, e] = data::BatchOrder::rank_slice(batch.size(), comm_.rank(), comm_.size());
      train_step(std::span<const std::uint32_t>(batch).subspan(b, e - b), epoch, s, sums, times);
      ++global_step_;
      ++done;
      examples += batch.size();
      if (progress_) progress_->update(done, examples, sums.loss(), sums.accuracy());
    }
    if (done == 0) break;
    // Training metrics over the whole epoch, from every rank.
    double v[3] = {sums.loss_sum, sums.correct, sums.count};
    comm_.set_context("epoch metric reduction");
    comm_.allreduce_sum(std::span<double>(v, 3));
    const MetricSums train{v[0], v[1], v[2]};
    const double train_seconds = since(t_epoch);

    EpochMetrics row;
    row.epoch = epoch + 1;
    row.loss = train.loss();
    row.acc = train.accuracy();
    if (!val_ids_.empty()) {
      const auto val = evaluate(val_split, val_ids_);
      row.has_val = true;
      row.val_loss = val.loss();
      row.val_acc = val.accuracy();
    }
    row.seconds = since(t_epoch);
    row.examples_per_second = double(examples) / train_seconds;
    history_rows_.push_back(row);
    if (progress_) {
      progress_->end_epoch(row.loss, row.acc, row.val_loss, row.val_acc, row.has_val, row.seconds,
                           row.examples_per_second);
    }
    // Where the time went: slowest rank and mean over ranks.
    double mx[3] = {times.data, times.compute, times.comm};
    double mean[3] = {times.data, times.compute, times.comm};
    comm_.allreduce_max(std::span<double>(mx, 3));
    comm_.allreduce_sum(std::span<double>(mean, 3));
    for (double& m : mean) m /= comm_.size();
    if (progress_) {
      const double total = std::max(1e-9, mean[0] + mean[1] + mean[2]);
      char line[256];
      std::snprintf(line, sizeof line,
                    "  time split (mean / slowest rank): compute %.1fs / %.1fs, all-reduce %.1fs / "
                    "%.1fs (%.1f%%), data %.2fs / %.2fs",
                    mean[1], mx[1], mean[2], mx[2], 100.0 * mean[2] / total, mean[0], mx[0]);
      progress_->message(line);
    }
    if (history_) history_->write(history_rows_);
  }
  (void)split;
  return history_rows_;
}

}  // namespace rnn_dist::train
