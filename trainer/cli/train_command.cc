// `rnn_dist train` (and the two small commands that need no MPI: prepare, summary).
#include <Eigen/Core>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>

#include "comm/mpi_communicator.h"
#include "trainer/cli/commands.h"
#include "trainer/cli/fault_injection.h"
#include "trainer/cli/option_checks.h"
#include "trainer/cli/plot_history.h"
#include "trainer/cli/resume.h"
#include "trainer/cli/run_info.h"
#include "trainer/data/imdb_reader.h"
#include "trainer/data/prepared_dataset.h"
#include "trainer/data/split.h"
#include "trainer/data/tokenizer.h"
#include "trainer/model/model.h"
#include "trainer/train/checkpointer.h"
#include "trainer/train/file_io.h"
#include "trainer/train/tensorboard.h"
#include "trainer/train/trainer.h"

namespace rnn_dist::cli {

namespace {

// Set by the first SIGTERM/SIGINT/SIGUSR1; the trainer polls it at step boundaries and all ranks
// stop together after a checkpoint. A second signal ends the process at once.
volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void on_stop_signal(int sig) {
  if (g_stop_signal != 0) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_stop_signal = sig;
}

bool stop_requested() { return g_stop_signal != 0; }

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGTERM, SIGINT, SIGUSR1}) sigaction(sig, &action, nullptr);
}

// Every rank must train the same model the same way: with MPMD launches or per-rank config
// files the options could differ, and the collectives would then silently disagree. Collective;
// returns this rank's error ("" if its options are rank 0's), for agree_on_setup_errors.
std::string check_same_options(comm::Communicator& comm, const std::string& config) {
  std::uint64_t mine = std::hash<std::string>{}(config);
  std::uint64_t root = mine;
  comm.set_context("option agreement");
  comm.broadcast(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(&root), sizeof root));
  return root == mine ? "" : "started with options that differ from rank 0's";
}

// RNN_DIST_GRADIENT_SUM: unset or "exact" (the default), or "float" (test only: the
// reproducibility tests' negative control, train::StepOptions::float_sum). Returns the error, ""
// if none.
std::string gradient_sum_from_env(bool& float_sum) {
  const char* value = std::getenv("RNN_DIST_GRADIENT_SUM");
  const std::string v = value ? value : "";
  float_sum = v == "float";
  if (v.empty() || v == "exact" || v == "float") return "";
  return "RNN_DIST_GRADIENT_SUM '" + v + "' must be exact or float (float is for tests only)";
}

// This rank's part of the set-up checks: finds the data (into `data_path`) and checks what this
// rank will write or read. Returns the error, "" if none.
std::string check_environment(const Options& o, int rank, std::string& data_path) {
  try {
    data_path = resolve_data_path(o.data);
    // Rank 0 writes the outputs and checkpoints (other hosts need not see its folders); the
    // others write only their --log-all-ranks files.
    if (rank == 0) {
      check_output_dir("--output-dir", o.output_dir);
      check_output_dir("--checkpoint-dir", o.checkpoint_dir);
      if (!o.tensorboard.dir.empty()) check_output_dir("--tensorboard", o.tensorboard.dir);
    } else if (o.log_all_ranks) {
      check_output_dir("--output-dir", o.output_dir);
    }
    // Only rank 0 reads the checkpoint to resume from (and sends it to the others).
    if (rank == 0 && !o.resume.empty() && o.resume != "auto")
      check_input_file("--resume", o.resume);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// The split must leave at least one global batch to train on (else an "epoch" of 0 steps would
// end in a checkpoint of the initial weights), and a validation split > 0 at least one review
// to validate on. The same on every rank (the ranks checked they hold the same data). Returns
// the error, "" if none.
std::string check_split(const Options& o, const data::PreparedDataset& dataset) {
  const std::size_t n = dataset.split("train").size();
  const double f = o.train.validation_split;
  const std::size_t train = data::training_count(n, f);
  const std::string counts = std::to_string(train) + " of the " + std::to_string(n) +
                             " training reviews";
  if (train < static_cast<std::size_t>(o.train.batch_size))
    return "--validation-split " + format_number(f) + " leaves " + counts +
           " for training: fewer than one global batch (--batch-size " +
           std::to_string(o.train.batch_size) + ")";
  if (f > 0 && train == n)
    return "--validation-split " + format_number(f) + " holds out none of the " +
           std::to_string(n) + " training reviews (0 trains without validation)";
  return "";
}

// Rank 0's events file for --tensorboard (null without it, and on the other ranks), opened once
// the resume point is known (`resumed`: the checkpoint this run continues from, or null): the
// folder's events after that point are removed (train/tensorboard.h).
std::unique_ptr<train::TensorBoardWriter> open_tensorboard(const Options& o, bool root,
                                                           const pb::Checkpoint* resumed,
                                                           train::Progress& progress) {
  if (!root || o.tensorboard.dir.empty()) return nullptr;
  std::optional<std::uint64_t> step;
  if (resumed) step = resumed->training().global_step();
  auto writer = std::make_unique<train::TensorBoardWriter>(
      o.tensorboard, step, [&](const std::string& w) { progress.message("warning: " + w, true); });
  progress.message("tensorboard: " + writer->path());
  return writer;
}

pb::PipelineSpec pipeline_of(const Options& o, const data::PreparedDataset& dataset) {
  pb::PipelineSpec p;
  *p.mutable_tokenizer() = dataset.header().tokenizer();
  p.set_maxlen(o.sequence.maxlen);
  p.set_padding(std::string(data::padding_name(o.sequence.padding)));
  p.set_truncating(std::string(data::padding_name(o.sequence.truncating)));
  return p;
}

// The ranks' options, then each rank's environment (data, output folders, checkpoint, which can
// differ between hosts) and RNN_DIST_GRADIENT_SUM. Collective: the ranks agree on the outcome
// and end together; returns the status (0: go on).
int check_setup(const Options& o, comm::Communicator& comm, std::string& data_path,
                bool& float_sum) {
  std::string error = check_same_options(comm, o.options_as_given);
  if (error.empty()) error = check_environment(o, comm.rank(), data_path);
  if (error.empty()) error = gradient_sum_from_env(float_sum);
  return agree_on_setup_errors(comm, error, kExitUsage);
}

// Collective: every rank holds the same examples, and the split leaves a batch to train on.
// Returns the agreed status (0: go on).
int check_data(const Options& o, comm::Communicator& comm, const data::PreparedDataset& dataset,
               const std::string& prepared) {
  std::string error = check_same_data(comm, dataset, prepared);
  if (error.empty()) error = check_split(o, dataset);
  return agree_on_setup_errors(comm, error, kExitUsage);
}

// Where this rank reports: rank 0 on stdout; with --log-all-ranks each other rank to
// <output-dir>/rank-<r>.log (its running loss, time split, warnings); else nowhere.
class RankReport {
 public:
  RankReport(const Options& o, int rank, bool bar)
      : log_(open_log(o, rank)),
        reports_(rank == 0 || log_ != nullptr),
        progress_(log_ ? log_.get() : stdout, rank == 0 && bar,
                  reports_ ? o.verbosity : train::Verbosity::kQuiet) {
    // Every rank knows whether rank 0 draws the bar (the same options everywhere).
    if (rank != 0 && bar) train::start_abort_message_on_a_fresh_line();
  }
  // Messages to this rank's report (quiet where it has none).
  train::Progress& progress() { return progress_; }
  // The trainer's progress: null on a rank without a report.
  train::Progress* reporting() { return reports_ ? &progress_ : nullptr; }

 private:
  using File = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;
  static File open_log(const Options& o, int rank) {
    if (rank == 0 || !o.log_all_ranks) return File(nullptr, &std::fclose);
    const auto path = o.output_dir + "/rank-" + std::to_string(rank) + ".log";
    File file(std::fopen(path.c_str(), "w"), &std::fclose);
    if (!file) throw std::runtime_error("--log-all-ranks: cannot write " + path);
    return file;
  }
  File log_;
  bool reports_;
  train::Progress progress_;
};

void print_header(const Options& o, int argc, char** argv, comm::Communicator& comm, int threads,
                  const data::PreparedDataset& dataset, const std::string& prepared,
                  const model::Model& model) {
  const std::size_t n = dataset.split("train").size();
  const std::size_t validation = n - data::training_count(n, o.train.validation_split);
  std::printf("%s", run_header(o, argc, argv, comm.all_hosts(), comm.all_nodes(), threads, dataset,
                               prepared, model, validation)
                        .c_str());
  std::fflush(stdout);
}

// Rank 0's outputs: the history files, config.ini, the checkpoint folder and the TensorBoard
// events file (none elsewhere).
struct RunOutputs {
  std::unique_ptr<train::HistoryWriter> history;
  std::unique_ptr<train::Checkpointer> checkpointer;
  std::unique_ptr<train::TensorBoardWriter> tensorboard;
};

RunOutputs open_outputs(const Options& o, const data::PreparedDataset& dataset,
                        const StartPoint& start, train::Progress& progress, bool root) {
  RunOutputs outputs;
  if (!root) return outputs;
  outputs.tensorboard =
      open_tensorboard(o, root, start.resume ? &start.checkpoint : nullptr, progress);
  outputs.history = std::make_unique<train::HistoryWriter>(o.output_dir);
  train::write_file_atomically(o.output_dir + "/config.ini", o.effective_config);
  train::CheckpointContext context{train::to_proto(o.model), pipeline_of(o, dataset),
                                   dataset.vocabulary().to_proto(), o.effective_config};
  outputs.checkpointer = std::make_unique<train::Checkpointer>(o.checkpoint_dir, o.keep,
                                                               o.best_metric, std::move(context));
  return outputs;
}

// After training (collective: the test split is evaluated by every rank): early stopping, the
// test metrics, the best epoch and the last checkpoint, printed by rank 0.
void report_results(const Options& o, train::Trainer& trainer, train::FitStatus status,
                    const data::PreparedDataset& dataset, bool root) {
  const auto& rows = trainer.history();
  if (status == train::FitStatus::kEarlyStopped && root)
    std::printf("early stopping after epoch %d\n", rows.back().epoch);
  if (!o.no_test && status != train::FitStatus::kMaxSteps) {
    const auto test = dataset.split("test");
    std::vector<std::uint32_t> ids(test.size());
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::uint32_t>(i);
    const auto sums = trainer.evaluate(test, ids);
    if (root)
      std::printf("test_loss: %.4f - test_acc: %.4f (%lld reviews)\n", sums.loss(),
                  sums.accuracy(), static_cast<long long>(sums.count));
  }
  if (!root) return;
  double best = -1;
  int best_epoch = 0;
  for (const auto& r : rows)
    if (r.has_val && r.val_acc > best) best = r.val_acc, best_epoch = r.epoch;
  if (best_epoch > 0)
    std::printf("best val_acc: %.4f (epoch %d); history in %s/history.csv\n", best, best_epoch,
                o.output_dir.c_str());
  if (!trainer.last_checkpoint().empty())
    std::printf("checkpoint: %s\n", trainer.last_checkpoint().c_str());
}

}  // namespace

int run_prepare(const Options& o) {
  // A folder that is not an aclImdb folder is a usage error, named like train's --data.
  std::error_code ec;
  if (!std::filesystem::is_directory(o.data, ec))
    throw UsageError("--data " + o.data + ": " +
                     (std::filesystem::exists(o.data, ec) ? "not a folder" : "no such folder") +
                     " (prepare reads an aclImdb folder)");
  if (const auto problem = data::aclimdb_layout_problem(o.data); !problem.empty())
    throw UsageError("--data " + o.data + ": " + problem +
                     " (expected an aclImdb folder with train/pos, train/neg, test/pos and "
                     "test/neg holding <id>_<rating>.txt reviews)");
  data::prepare(o.data, o.out);
  const data::PreparedDataset dataset(o.out);
  std::printf("%s", dataset_summary(dataset, o.out).c_str());
  return kExitOk;
}

int run_summary(const Options& o) {
  model::Model model(o.model);
  std::printf("%s", model.summary().c_str());
  return kExitOk;
}

int run_train(const Options& o, int& argc, char**& argv) {
  // The layers' kernels are single-threaded (threads take whole micro-batches, see
  // train/gradient_step.h), so Eigen must not start threads of its own inside them.
  Eigen::setNbThreads(1);
  // Decided before MPI starts: MPI_Init of a lone process sets launcher variables itself.
  const bool bar = progress_bar_wanted(o.progress);
  const bool plot = o.plot && launcher_rank() == 0 && plotting_wanted();

  // First of all: a stop signal that comes while MPI starts or the data is prepared (Slurm's
  // --signal can come seconds after a job starts) must not kill the rank with the default
  // action; it is noted, and training stops after a checkpoint at its first step.
  install_stop_handlers();
  auto comm = comm::make_communicator(&argc, &argv);
  // From the first collective on: a rank stuck in its set-up checks (a hung file system) must not
  // leave the others waiting either.
  comm->set_deadline(o.collective_timeout);
  std::string data_path;
  bool float_sum = false;
  if (const int status = check_setup(o, *comm, data_path, float_sum)) return status;
  return run_or_abort(*comm, "training", [&]() -> int {
    const bool root = comm->rank() == 0;
    std::string prepared;
    std::optional<data::PreparedDataset> opened;
    if (const int status = open_dataset(*comm, data_path, o.collective_timeout, opened, prepared))
      return status;
    const data::PreparedDataset& dataset = *opened;
    if (const int status = check_data(o, *comm, dataset, prepared)) return status;

    model::Model model(o.model);
    auto optimizer = optim::make_optimizer(o.optimizer, model.params().size());
    auto train_options = o.train;
    train_options.threads = choose_threads(o.train.threads, comm->local_size());
    train_options.float_sum = float_sum;
    RankReport report(o, comm->rank(), bar);
    if (root && o.verbosity != train::Verbosity::kQuiet)
      print_header(o, argc, argv, *comm, train_options.threads, dataset, prepared, model);
    StartPoint start;
    if (const int status = find_start(o, *comm, report.progress(), start)) return status;

    const RunOutputs outputs = open_outputs(o, dataset, start, report.progress(), root);
    train::Trainer trainer(model, *optimizer, *comm, dataset, o.sequence, train_options,
                           report.reporting(), outputs.history.get());
    trainer.set_checkpointer(outputs.checkpointer.get());
    trainer.set_tensorboard(outputs.tensorboard.get());
    trainer.set_stop_request(&stop_requested);
    trainer.set_fault_hook(fault_hook_from_env(comm->rank(), *comm));
    start_training(start, model, *optimizer, trainer, outputs.history.get(), report.progress(),
                   root);

    const auto status = trainer.fit();
    if (status == train::FitStatus::kStopped) {
      comm->barrier();
      return kExitStopped;
    }
    report_results(o, trainer, status, dataset, root);
    if (plot) plot_history(o.output_dir, trainer.history().size(), report.progress());
    std::fflush(stdout);
    comm->barrier();
    return kExitOk;
  });
}

}  // namespace rnn_dist::cli
