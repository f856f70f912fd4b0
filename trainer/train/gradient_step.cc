#include "trainer/train/gradient_step.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>

#include "trainer/data/batch_order.h"
#include "trainer/model/denormals.h"
#include "trainer/train/exact_sum.h"

namespace rnn_dist::train {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Largest |x| into max_abs; a NaN or infinity sets nonfinite. One pass: NaN never wins the
// max comparison, so the same loop tests every value against the largest finite float.
void scan(std::span<const float> x, double& max_abs, bool& nonfinite) {
  constexpr float kLargest = std::numeric_limits<float>::max();
  float m = 0;
  bool bad = false;
  for (float v : x) {
    const float a = std::abs(v);
    bad |= !(a <= kLargest);
    m = std::max(m, a);
  }
  nonfinite = nonfinite || bad;
  max_abs = std::max(max_abs, double(m));
}

}  // namespace

// One micro-batch's gradient as it came out of backward(), before the sum.
struct GradientStep::Micro {
  std::span<const std::uint32_t> ids;  // its examples, in global batch order
  std::vector<float> dense;            // every value outside the embedding table
  std::vector<std::uint32_t> rows;     // the table rows it touched
  std::vector<float> table;            // their values, rows.size() * dim
  std::vector<double> max_abs;         // per tensor: the dense ones, then the table
  bool nonfinite = false;
  MetricSums sums;
  std::int64_t columns = 0;  // Model::computed_columns()
};

// A thread and its model replica. Between steps its model's gradient buffer is all zero: extract()
// zeroes what backward() wrote.
struct GradientStep::Worker {
  std::unique_ptr<model::Model> own;  // null for worker 0, which uses the rank's model
  model::Model* model;
  BatchEncoder encoder;
  std::vector<float> logits, dlogits;
  std::vector<std::uint32_t> stamp;  // per table row: the tick of the last micro-batch that saw it
  std::uint32_t tick = 0;
  std::vector<int> micros;           // this step's micro-batches it took, in that order
  double encode_seconds = 0;
  std::exception_ptr error;
};

std::vector<int> assign_by_cost(std::span<const double> cost, int parts) {
  std::vector<std::size_t> order(cost.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return cost[a] > cost[b]; });
  std::vector<double> load(static_cast<std::size_t>(std::max(1, parts)), 0.0);
  std::vector<int> part(cost.size(), 0);
  for (std::size_t i : order) {
    const auto least = std::min_element(load.begin(), load.end()) - load.begin();
    part[i] = static_cast<int>(least);
    load[static_cast<std::size_t>(least)] += cost[i];
  }
  return part;
}

GradientStep::GradientStep(model::Model& model, comm::Communicator& comm,
                           const data::SplitView& split, std::span<const std::uint32_t> cost,
                           const data::SequenceOptions& sequence, const StepOptions& options)
    : model_(model),
      comm_(comm),
      split_(split),
      cost_(cost),
      sequence_(sequence),
      options_(options),
      union_(0),
      float_reduce_(0, 1, 1) {
  if (options_.batch_size < 1 || options_.micro_batch < 1 || options_.threads < 1)
    throw std::invalid_argument("GradientStep: batch size, micro-batch and threads must be >= 1");
  if (micro_batches(static_cast<std::size_t>(options_.batch_size)) >
      static_cast<std::size_t>(kMaxFixedTerms))
    throw std::invalid_argument("GradientStep: more than " + std::to_string(kMaxFixedTerms) +
                                " micro-batches per batch");
  const auto& layout = model_.layout();
  const model::TensorInfo& table = layout.find("embedding/embeddings");
  table_begin_ = table.offset;
  rows_ = static_cast<std::size_t>(table.shape.at(0));
  dim_ = static_cast<std::size_t>(table.shape.at(1));
  table_end_ = table_begin_ + rows_ * dim_;
  std::size_t dense_at = 0;
  for (const auto& t : layout.tensors()) {
    if (t.offset == table_begin_) continue;
    dense_tensors_.push_back({t.offset, t.size, dense_at});
    dense_at += t.size;
  }
  dense_size_ = dense_at;
  union_ = comm::RowUnion(rows_);
  float_reduce_ = comm::RowSparseAllreduce<float>(table_begin_, rows_, dim_);
  for (int k = 0; k < options_.threads; ++k) {
    auto w = std::make_unique<Worker>(Worker{nullptr, &model_, BatchEncoder(sequence_, model_.spec().mask_padding),
                                             {}, {}, {}, 0, {}, 0, nullptr});
    if (k > 0) {
      w->own = std::make_unique<model::Model>(model_.spec());
      w->model = w->own.get();
    }
    w->model->set_packing(options_.packing);
    w->stamp.assign(rows_, 0);
    workers_.push_back(std::move(w));
  }
  bits_.assign(union_.words(), 0);
  metric_words_.assign(MetricSums::kWords, 0);
  groups_ = comm_.all_work_groups();
}

GradientStep::~GradientStep() = default;

std::size_t GradientStep::micro_batches(std::size_t n) const {
  const auto m = static_cast<std::size_t>(options_.micro_batch);
  return (n + m - 1) / m;
}

void GradientStep::extract(Worker& w, Micro& m) {
  auto grads = w.model->grads();
  // The dense tensors: copied out and zeroed.
  m.dense.resize(grads.size() - rows_ * dim_);
  m.max_abs.assign(dense_tensors_.size() + 1, 0.0);
  m.nonfinite = false;
  for (std::size_t k = 0; k < dense_tensors_.size(); ++k) {
    const auto& t = dense_tensors_[k];
    const auto g = grads.subspan(t.offset, t.size);
    std::copy(g.begin(), g.end(), m.dense.begin() + static_cast<std::ptrdiff_t>(t.dense_at));
    scan(g, m.max_abs[k], m.nonfinite);
    std::fill(g.begin(), g.end(), 0.0f);
  }
  // The table rows of the micro-batch's tokens (padding's too unless masked: unmasked, the
  // padding token's embedding is trained like any other).
  ++w.tick;
  if (w.tick == 0) {  // wrapped: forget every stamp
    std::fill(w.stamp.begin(), w.stamp.end(), 0);
    w.tick = 1;
  }
  m.rows.clear();
  const bool masked = model_.spec().mask_padding;
  for (std::int32_t id : w.encoder.tokens()) {
    if (masked && id == 0) continue;
    auto& s = w.stamp[static_cast<std::size_t>(id)];
    if (s == w.tick) continue;
    s = w.tick;
    m.rows.push_back(static_cast<std::uint32_t>(id));
  }
  m.table.resize(m.rows.size() * dim_);
  float* out = m.table.data();
  for (std::uint32_t r : m.rows) {
    float* row = grads.data() + table_begin_ + std::size_t(r) * dim_;
    out = std::copy_n(row, dim_, out);
    std::fill_n(row, dim_, 0.0f);
  }
  scan(m.table, m.max_abs.back(), m.nonfinite);
}

void GradientStep::run_worker(Worker& w) {
  try {
    w.encode_seconds = 0;
    const float scale = 1.0f / float(batch_examples_);
    const auto items = static_cast<std::int64_t>(pool_.size());
    // Shared: take the pool's next micro-batch while there is one. Fixed (the float sum): the
    // ones compute() assigned to this worker, already in w.micros.
    const std::size_t fixed = w.micros.size();
    for (std::size_t j = 0;; ++j) {
      int index;
      if (options_.float_sum) {
        if (j == fixed) break;
        index = w.micros[j];
      } else {
        const std::int64_t k = comm_.take_work(items);
        if (k < 0) break;
        index = pool_[static_cast<std::size_t>(k)];
        w.micros.push_back(index);
      }
      Micro& m = micros_[static_cast<std::size_t>(index)];
      m.sums = MetricSums{};
      const auto t0 = Clock::now();
      const int T = w.encoder.encode(split_, m.ids);
      w.encode_seconds += since(t0);
      const int B = static_cast<int>(m.ids.size());
      w.logits.resize(m.ids.size());
      w.dlogits.resize(m.ids.size());
      w.model->forward(w.encoder.tokens(), T, B, w.logits);
      m.columns = w.model->computed_columns();
      binary_cross_entropy(w.logits, w.encoder.labels(), scale, w.dlogits, m.sums);
      w.model->backward(w.dlogits);
      extract(w, m);
    }
  } catch (...) {
    w.error = std::current_exception();
  }
}

GradientStep::Result GradientStep::compute(std::span<const std::uint32_t> batch, StepTimes& times,
                                           const std::function<void()>& before_sum) {
  auto t0 = Clock::now();
  auto grads = model_.grads();
  // Last step's gradient out of the rank's model (worker 0 computes in it).
  if (first_) {
    std::fill(grads.begin(), grads.end(), 0.0f);
    first_ = false;
  } else {
    for (const auto& t : dense_tensors_) std::fill_n(grads.begin() + static_cast<std::ptrdiff_t>(t.offset), t.size, 0.0f);
    for (std::uint32_t r : written_rows_)
      std::fill_n(grads.begin() + static_cast<std::ptrdiff_t>(table_begin_ + std::size_t(r) * dim_), dim_, 0.0f);
  }

  // The loss is the batch's mean (Keras): an epoch's last, shorter batch divides by its own size.
  batch_examples_ = batch.size();
  // Cut by position; cost as a packed (or masked) batch computes it.
  const std::size_t n = micro_batches(batch.size());
  const auto mb = static_cast<std::size_t>(options_.micro_batch);
  micros_.resize(n);
  micro_cost_.assign(n, 0.0);
  const auto maxlen = static_cast<double>(sequence_.maxlen);
  for (std::size_t i = 0; i < n; ++i) {
    micros_[i].ids = batch.subspan(i * mb, std::min(mb, batch.size() - i * mb));
    double sum = 0, longest = 0, shortest = maxlen;
    for (std::uint32_t id : micros_[i].ids) {
      const double len = cost_[id];
      sum += len;
      longest = std::max(longest, len);
      shortest = std::min(shortest, len);
    }
    micro_cost_[i] = model_.spec().mask_padding
                         ? longest * double(micros_[i].ids.size())
                         : sum + (maxlen - shortest);
  }
  // Whole micro-batches to ranks, balanced by cost; the shares of a work group's ranks make its
  // pool, which its ranks and threads take longest first (ties: by position). The float sum
  // (a test of what a plain data-parallel trainer does) keeps a fixed split instead, this rank's
  // share to its threads by cost, so that its order of addition is a function of the ranks and
  // threads alone.
  owner_ = assign_by_cost(micro_cost_, comm_.size());
  const int group = groups_[static_cast<std::size_t>(comm_.rank())];
  pool_.clear();
  for (std::size_t i = 0; i < n; ++i) {
    const int owner = owner_[i];
    if (options_.float_sum ? owner == comm_.rank() : groups_[static_cast<std::size_t>(owner)] == group)
      pool_.push_back(static_cast<int>(i));
  }
  std::stable_sort(pool_.begin(), pool_.end(), [&](int a, int b) {
    return micro_cost_[static_cast<std::size_t>(a)] > micro_cost_[static_cast<std::size_t>(b)];
  });
  const int parts = static_cast<int>(std::min<std::size_t>(workers_.size(), std::max<std::size_t>(1, pool_.size())));
  for (auto& w : workers_) {
    w->micros.clear();
    w->error = nullptr;
  }
  if (options_.float_sum) {
    std::vector<double> cost;
    for (int i : pool_) cost.push_back(micro_cost_[static_cast<std::size_t>(i)]);
    const std::vector<int> thread_of = assign_by_cost(cost, parts);
    for (std::size_t j = 0; j < pool_.size(); ++j)
      workers_[static_cast<std::size_t>(thread_of[j])]->micros.push_back(pool_[j]);
  }

  std::vector<std::thread> threads;
  // Every thread computes with this thread's subnormal mode (model/denormals.h): the same bits
  // whichever thread runs a micro-batch.
  const bool flush = model::flush_denormals();
  for (int k = 1; k < parts; ++k) {
    Worker& w = *workers_[static_cast<std::size_t>(k)];
    std::copy(model_.params().begin(), model_.params().end(), w.model->params().begin());
    threads.emplace_back([this, &w, flush] {
      model::set_flush_denormals(flush);
      run_worker(w);
    });
  }
  run_worker(*workers_[0]);
  for (auto& t : threads) t.join();
  mine_.clear();
  for (const auto& w : workers_) {
    if (w->error) std::rethrow_exception(w->error);
    mine_.insert(mine_.end(), w->micros.begin(), w->micros.end());
  }
  times.micro_batches += static_cast<std::int64_t>(mine_.size());
  // The main thread's encoding time stands for the data loading of the step (the threads
  // encode in parallel).
  times.data += workers_[0]->encode_seconds;
  times.compute += since(t0) - workers_[0]->encode_seconds;

  if (options_.profile) {
    // A barrier first separates waiting for slower ranks from moving the gradients.
    t0 = Clock::now();
    comm_.barrier();
    times.wait += since(t0);
  }
  if (before_sum) before_sum();

  Result result{};
  MetricSums local;
  result.columns = 0;
  for (int i : mine_) {
    local += micros_[static_cast<std::size_t>(i)].sums;
    result.columns += micros_[static_cast<std::size_t>(i)].columns;
  }
  local.to_words(metric_words_.data());
  if (options_.float_sum)
    sum_float(result, times);
  else
    sum_exact(result, times);
  return result;
}

void GradientStep::sum_exact(Result& result, StepTimes& times) {
  auto t0 = Clock::now();
  // 1. Every tensor's largest |value| over all micro-batches of all ranks, and whether any
  //    value is not finite: the quanta. Then the table rows some rank touched (none when some
  //    value is not finite: the step is skipped or stopped, and only the metrics matter).
  const std::size_t nt = dense_tensors_.size() + 1;
  max_abs_.assign(nt + 1, 0.0);
  for (int i : mine_) {
    const Micro& m = micros_[static_cast<std::size_t>(i)];
    for (std::size_t k = 0; k < nt; ++k) max_abs_[k] = std::max(max_abs_[k], m.max_abs[k]);
    if (m.nonfinite) max_abs_[nt] = 1;
  }
  comm_.allreduce_max(max_abs_);
  result.finite = max_abs_[nt] == 0;
  std::fill(bits_.begin(), bits_.end(), 0);
  if (result.finite)
    for (int i : mine_)
      for (std::uint32_t r : micros_[static_cast<std::size_t>(i)].rows)
        bits_[r / 64] |= std::uint64_t{1} << (r % 64);
  union_.agree(comm_, bits_);
  times.comm += since(t0);
  t0 = Clock::now();

  // 2. This rank's micro-batches into fixed point, straight into the packed buffer.
  const std::size_t rows_at = dense_size_ + MetricSums::kWords;
  packed_.assign(rows_at + union_.rows().size() * dim_, 0);
  quanta_.clear();
  for (std::size_t k = 0; k < nt; ++k) quanta_.emplace_back(fixed_exponent(max_abs_[k]));
  if (result.finite) {
    for (int i : mine_) {
      const Micro& m = micros_[static_cast<std::size_t>(i)];
      for (std::size_t k = 0; k < dense_tensors_.size(); ++k) {
        const auto& t = dense_tensors_[k];
        add_fixed(std::span<const float>(m.dense).subspan(t.dense_at, t.size), quanta_[k],
                  packed_.data() + t.dense_at);
      }
      const float* values = m.table.data();
      for (std::uint32_t r : m.rows) {
        add_fixed(std::span<const float>(values, dim_), quanta_[nt - 1],
                  packed_.data() + rows_at + std::size_t(union_.slot(r)) * dim_);
        values += dim_;
      }
    }
  }
  std::copy(metric_words_.begin(), metric_words_.end(), packed_.begin() + std::ptrdiff_t(dense_size_));
  times.compute += since(t0);

  // 3. The exact sum over ranks, and back to float once.
  t0 = Clock::now();
  if (comm_.size() > 1) comm_.allreduce_sum(std::span<std::int64_t>(packed_));
  times.comm += since(t0);
  t0 = Clock::now();
  result.sums = MetricSums::from_words(packed_.data() + dense_size_);
  auto grads = model_.grads();
  written_rows_.assign(union_.rows().begin(), union_.rows().end());
  if (result.finite) {
    for (std::size_t k = 0; k < dense_tensors_.size(); ++k) {
      const auto& t = dense_tensors_[k];
      from_fixed(packed_.data() + t.dense_at, quanta_[k], grads.subspan(t.offset, t.size));
    }
    const std::int64_t* row = packed_.data() + rows_at;
    for (std::uint32_t r : written_rows_) {
      from_fixed(row, quanta_[nt - 1], grads.subspan(table_begin_ + std::size_t(r) * dim_, dim_));
      row += dim_;
    }
  }
  times.compute += since(t0);
}

void GradientStep::sum_float(Result& result, StepTimes& times) {
  const auto t0 = Clock::now();
  auto grads = model_.grads();
  std::fill(bits_.begin(), bits_.end(), 0);
  bool nonfinite = false;
  // As a plain data-parallel trainer adds: each thread its micro-batches into its replica's
  // buffer, the threads' buffers into the rank's, then the ranks' (float all-reduce).
  for (const auto& w : workers_) {
    auto mine = w->model->grads();
    for (int index : w->micros) {
      const Micro& m = micros_[static_cast<std::size_t>(index)];
      nonfinite = nonfinite || m.nonfinite;
      for (const auto& t : dense_tensors_)
        for (std::size_t j = 0; j < t.size; ++j) mine[t.offset + j] += m.dense[t.dense_at + j];
      const float* values = m.table.data();
      for (std::uint32_t r : m.rows) {
        float* row = mine.data() + table_begin_ + std::size_t(r) * dim_;
        for (std::size_t j = 0; j < dim_; ++j) row[j] += values[j];
        values += dim_;
        bits_[r / 64] |= std::uint64_t{1} << (r % 64);
      }
    }
    if (w->model == &model_) continue;
    for (const auto& t : dense_tensors_)
      for (std::size_t j = t.offset; j < t.offset + t.size; ++j) {
        grads[j] += mine[j];
        mine[j] = 0;
      }
    for (int index : w->micros)
      for (std::uint32_t r : micros_[static_cast<std::size_t>(index)].rows)
        for (std::size_t j = table_begin_ + std::size_t(r) * dim_, e = j + dim_; j < e; ++j) {
          grads[j] += mine[j];
          mine[j] = 0;
        }
  }
  float_reduce_.reduce(comm_, grads, bits_);
  written_rows_.assign(float_reduce_.rows().begin(), float_reduce_.rows().end());
  std::vector<std::int64_t> words(metric_words_);
  words.push_back(nonfinite ? 1 : 0);
  comm_.allreduce_sum(std::span<std::int64_t>(words));
  result.sums = MetricSums::from_words(words.data());
  result.finite = words.back() == 0;
  times.comm += since(t0);
}

}  // namespace rnn_dist::train
