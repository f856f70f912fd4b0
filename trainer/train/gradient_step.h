// One training step's gradient, computed by all ranks and threads together, with the same bits
// whatever their number.
//
//   global batch --cut by position--> micro-batches of StepOptions::micro_batch examples
//     --balanced by cost--> ranks --pooled per node--> the node's ranks and threads take them,
//       longest first, as each becomes free (Communicator::take_work; a model replica each)
//     --forward/backward--> one float gradient per micro-batch
//     --exact sum (exact_sum.h) over micro-batches, threads and ranks--> model.grads()
//
// A micro-batch is a fixed unit: its examples are fixed by the global batch order, and its
// forward and backward (packing included) run the same code on the same inputs wherever they
// run, so its gradient is the same bits on any rank or thread. The sum of the micro-batches'
// gradients is an integer sum in fixed point, exact in any order: one max all-reduce agrees on
// each tensor's quantum, an OR of bitmaps on the embedding table rows some micro-batch touched
// (comm/row_sparse.h's RowUnion), and one all-reduce adds the int64 values, written straight in
// packed form: the dense tensors, the metric sums, then only those rows. So the step's
// gradient, and every rank's copy of it, is the same bits on 1 rank or 64, with 1 thread or 4,
// and whichever rank took which micro-batch.
//
// Balance: the cost model (columns computed) predicts a micro-batch's time within a few percent
// on a quiet machine, so the split by cost across nodes is static. Within a node the split is
// dynamic, because a core's speed is not steady: on a shared or virtual machine one core runs
// 10-30% slower than the other for many steps in a row, which a static split turns into waiting
// at the all-reduce.
//
// Thread-compatibility: one object per Trainer, used from one thread (it runs its own).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "comm/communicator.h"
#include "comm/row_sparse.h"
#include "trainer/data/encoding.h"
#include "trainer/data/prepared_dataset.h"
#include "trainer/model/model.h"
#include "trainer/train/evaluate.h"
#include "trainer/train/exact_sum.h"
#include "trainer/train/loss.h"

namespace rnn_dist::train {

struct StepOptions {
  int batch_size = 128;  // the global batch (an epoch's last one may be shorter)
  int micro_batch = 16;  // examples per micro-batch: the unit of work and of reproducibility
  int threads = 1;       // threads per rank, a model replica each
  bool profile = false;  // a barrier before the sums separates waiting for slower ranks
  bool packing = true;   // Model::set_packing (off: every step of every example; benchmarks)
  // Test only (RNN_DIST_GRADIENT_SUM=float): split the micro-batches as a plain data-parallel
  // trainer does (fixed by cost to ranks and threads, no sharing), add their gradients as
  // floats, in the order they were computed here, then all-reduce floats. The result then
  // depends on the number of ranks and threads; the reproducibility tests show that they can
  // see it.
  bool float_sum = false;
};

// Where the time of the steps goes, in seconds, summed over an epoch.
struct StepTimes {
  double data = 0;     // choosing and encoding the batch
  double compute = 0;  // forward, backward, conversion to fixed point, optimizer
  double comm = 0;     // the all-reduces of the step (including waiting for slower ranks,
                       // unless `wait` measures that)
  double wait = 0;     // with profile: a barrier before the all-reduce, i.e. load imbalance
  std::int64_t micro_batches = 0;  // micro-batches this rank computed
};

class GradientStep {
 public:
  // model: this rank's replica, whose grads() receive the step's gradient. split: the examples
  // that batches name; cost[id]: example id's work (its effective length). All references must
  // outlive the object. Throws std::invalid_argument for options out of range.
  GradientStep(model::Model& model, comm::Communicator& comm, const data::SplitView& split,
               std::span<const std::uint32_t> cost, const data::SequenceOptions& sequence,
               const StepOptions& options);
  ~GradientStep();

  struct Result {
    MetricSums sums;  // of the whole global batch (all ranks), the same on every rank
    bool finite;      // false if some gradient value was NaN or infinite (on any rank); the
                      // gradient in model.grads() is then not meaningful
    std::int64_t columns;  // example-steps the recurrent layers computed on this rank
  };
  // Collective. batch: global batch in the global batch order, the same on every rank.
  // Leaves in model.grads() on every rank the gradient of the batch's mean loss (the sum of its
  // examples' losses divided by batch.size(), as Keras's mean over the batch). before_sum (may be empty) runs on this rank once its micro-batches
  // are done, just before the all-reduces (the fault-injection point).
  Result compute(std::span<const std::uint32_t> batch, StepTimes& times,
                 const std::function<void()>& before_sum = {});

  // Micro-batches in a batch of n examples.
  std::size_t micro_batches(std::size_t n) const;

 private:
  struct Worker;
  struct Micro;
  void run_worker(Worker& w);
  void extract(Worker& w, Micro& m);
  void sum_exact(Result& result, StepTimes& times);
  void sum_float(Result& result, StepTimes& times);

  model::Model& model_;
  comm::Communicator& comm_;
  const data::SplitView split_;
  std::span<const std::uint32_t> cost_;
  data::SequenceOptions sequence_;
  StepOptions options_;

  // The flat gradient buffer: the embedding table [table_begin_, table_end_), rows of dim_, and
  // the dense tensors around it.
  std::size_t table_begin_, table_end_, rows_, dim_;
  struct Tensor {
    std::size_t offset, size;  // in the flat buffer
    std::size_t dense_at;      // where its values start in a Micro's `dense`
  };
  std::vector<Tensor> dense_tensors_;

  std::vector<std::unique_ptr<Worker>> workers_;  // workers_[0] uses model_ itself
  std::vector<Micro> micros_;                     // this step's micro-batches, by position
  std::vector<int> owner_;                        // micro-batch -> rank (its work group's share)
  std::vector<int> groups_;                       // rank -> work group (all_work_groups())
  std::vector<int> pool_;                         // this step's micro-batches of this rank's
                                                  // work group, longest first (take_work's list)
  std::vector<int> mine_;                         // those this rank took
  std::vector<Quantum> quanta_;                   // per tensor: the step's fixed-point quantum
  std::vector<double> micro_cost_;
  std::vector<std::uint64_t> bits_;               // table rows touched on this rank
  // The exact sum's fixed-point values, packed: the dense tensors (at their dense_at), the
  // metric words, then the rows of union_.rows(), dim_ each.
  std::vector<std::int64_t> packed_;
  std::vector<double> max_abs_;                   // per tensor (dense ones, then the table), flag
  std::vector<std::int64_t> metric_words_;
  std::size_t dense_size_ = 0;                    // values outside the table
  comm::RowUnion union_;                          // the table rows some rank touched
  comm::RowSparseAllreduce<float> float_reduce_;
  std::vector<std::uint32_t> written_rows_;       // table rows of model.grads() set last step
  bool first_ = true;
  std::size_t batch_examples_ = 1;  // this step's batch.size()
};

// Assigns items of cost[i] to `parts` parts, longest first (ties: lower index), each to the least
// loaded part (ties: lower part). Deterministic: a function of the costs and parts only.
// Returns the part of each item.
std::vector<int> assign_by_cost(std::span<const double> cost, int parts);

}  // namespace rnn_dist::train
