// `rnn_dist train` (and the two small commands that need no MPI: prepare, summary).
#include <sys/wait.h>
#include <unistd.h>

#include <Eigen/Core>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include "comm/mpi_communicator.h"
#include "trainer/cli/commands.h"
#include "trainer/cli/fault_injection.h"
#include "trainer/cli/option_checks.h"
#include "trainer/cli/run_info.h"
#include "trainer/data/imdb_reader.h"
#include "trainer/data/prepared_dataset.h"
#include "trainer/data/split.h"
#include "trainer/data/tokenizer.h"
#include "trainer/model/model.h"
#include "trainer/train/checkpointer.h"
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

// Rank 0 reads the checkpoint to resume from and sends its bytes to every rank, so that ranks on
// other hosts need not see the checkpoint folder. Returns false when there is nothing to resume.
bool load_resume_checkpoint(const Options& o, comm::Communicator& comm, train::Progress& progress,
                            pb::Checkpoint& checkpoint, std::string& source) {
  std::string bytes;
  if (comm.rank() == 0) {
    if (o.resume == "auto") {
      source = train::find_latest_valid(
          o.checkpoint_dir, [&](const std::string& w) { progress.message("warning: " + w, true); },
          &checkpoint);
      if (source.empty()) progress.message("--resume auto: no checkpoint in " + o.checkpoint_dir + ", starting afresh");
    } else {
      source = o.resume;
      checkpoint = train::read_checkpoint_file(source);
    }
    if (!source.empty()) checkpoint.SerializeToString(&bytes);
  }
  std::uint64_t size = bytes.size();
  comm.set_context("resume checkpoint broadcast");
  comm.broadcast(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(&size), sizeof size));
  if (size == 0) return false;
  bytes.resize(size);
  comm.broadcast(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(bytes.data()), size));
  if (comm.rank() != 0 && !checkpoint.ParseFromString(bytes))
    throw train::CheckpointError("resume checkpoint did not arrive intact from rank 0");
  return true;
}

// A resumed run must see the examples in the same order: refuse settings that change it.
void check_resumable(const pb::TrainingState& s, const Options& o, const std::string& source) {
  auto differ = [&](const std::string& flag, const std::string& then, const std::string& now) {
    throw UsageError("cannot resume from " + source + ": it was trained with " + flag + " " + then +
                     ", this run has " + flag + " " + now);
  };
  if (s.batch_size() != o.train.batch_size)
    differ("--batch-size", std::to_string(s.batch_size()), std::to_string(o.train.batch_size));
  if (s.seed() != o.train.seed) differ("--seed", std::to_string(s.seed()), std::to_string(o.train.seed));
  if (s.validation_split() != o.train.validation_split)
    differ("--validation-split", std::to_string(s.validation_split()),
           std::to_string(o.train.validation_split));
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

// launch/plot_history.py: $RNN_DIST_PLOT_SCRIPT, else next to the build folder, else where
// `cmake --install` puts it, else in the source tree this binary was built from. "" if none.
std::string find_plot_script() {
  if (const char* env = std::getenv("RNN_DIST_PLOT_SCRIPT"); env && *env) return env;
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  for (const auto& candidate : {exe / "../launch/plot_history.py",
                                exe / "../share/rnn_dist/plot_history.py",
                                std::filesystem::path(RNN_DIST_SOURCE_DIR) / "launch/plot_history.py"})
    if (std::filesystem::exists(candidate, ec)) return std::filesystem::canonical(candidate, ec).string();
  return "";
}

std::string python_for_plots() {
  return std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

// Runs `argv` and waits; returns its exit status (-1 if it could not run).
int run_program(const std::vector<std::string>& args) {
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Checked before training starts, so that a missing matplotlib is known before a long run.
bool plotting_available(std::string& why) {
  const auto script = find_plot_script();
  if (script.empty()) {
    why = "launch/plot_history.py not found (set RNN_DIST_PLOT_SCRIPT)";
    return false;
  }
  if (run_program({python_for_plots(), "-c", "import matplotlib"}) != 0) {
    why = python_for_plots() + " cannot import matplotlib (apt-get install python3-matplotlib)";
    return false;
  }
  return true;
}

// Draws accuracy.png and loss.png next to history.csv; a failure is a warning, not a failed run.
void plot_history(const std::string& dir, std::size_t rows, train::Progress& progress) {
  if (rows == 0) {
    progress.message("--plot: no finished epoch to plot", true);
    return;
  }
  const std::vector<std::string> command{python_for_plots(), find_plot_script(),
                                         dir + "/history.csv", dir};
  if (run_program(command) != 0)
    progress.message("warning: --plot: " + command[1] + " failed", true);
}

pb::PipelineSpec pipeline_of(const Options& o, const data::PreparedDataset& dataset) {
  pb::PipelineSpec p;
  *p.mutable_tokenizer() = dataset.header().tokenizer();
  p.set_maxlen(o.sequence.maxlen);
  p.set_padding(std::string(data::padding_name(o.sequence.padding)));
  p.set_truncating(std::string(data::padding_name(o.sequence.truncating)));
  return p;
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
  bool plot = o.plot;
  if (plot && launcher_rank() == 0) {
    std::string why;
    if (!(plot = plotting_available(why)))
      std::fprintf(stderr, "rnn_dist: warning: --plot: %s; training without plots\n", why.c_str());
  }

  auto comm = comm::make_communicator(&argc, &argv);
  // From the first collective on: a rank stuck in its set-up checks (a hung file system) must not
  // leave the others waiting either.
  comm->set_deadline(o.collective_timeout);
  const int threads = choose_threads(o.train.threads, comm->local_size());
  // The ranks' options, then each rank's environment (data, output folders, checkpoint), which
  // can differ between hosts: the ranks agree on the outcome and end together.
  std::string data_path;
  std::string setup_error = check_same_options(*comm, o.options_as_given);
  if (setup_error.empty()) setup_error = check_environment(o, comm->rank(), data_path);
  bool float_sum = false;
  if (setup_error.empty()) setup_error = gradient_sum_from_env(float_sum);
  if (const int status = agree_on_setup_errors(*comm, setup_error, kExitUsage)) return status;
  try {
    install_stop_handlers();
    const bool root = comm->rank() == 0;
    const std::string prepared = prepare_rank0_first(*comm, data_path, o.collective_timeout);
    const data::PreparedDataset dataset(prepared);
    std::string data_error = check_same_data(*comm, dataset, prepared);
    if (data_error.empty()) data_error = check_split(o, dataset);
    if (const int status = agree_on_setup_errors(*comm, data_error, kExitUsage)) return status;

    model::Model model(o.model);
    auto optimizer = optim::make_optimizer(o.optimizer, model.params().size());
    // Rank 0 reports on stdout; with --log-all-ranks the other ranks write their own view (their
    // running loss, time split, warnings) to a file each.
    std::FILE* out = stdout;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> rank_log(nullptr, &std::fclose);
    if (!root && o.log_all_ranks) {
      const auto path = o.output_dir + "/rank-" + std::to_string(comm->rank()) + ".log";
      rank_log.reset(std::fopen(path.c_str(), "w"));
      if (!rank_log) throw std::runtime_error("--log-all-ranks: cannot write " + path);
      out = rank_log.get();
    }
    const bool reports = root || rank_log != nullptr;
    train::Progress progress(out, root && bar, reports ? o.verbosity : train::Verbosity::kQuiet);
    std::unique_ptr<train::HistoryWriter> history;
    std::unique_ptr<train::Checkpointer> checkpointer;
    if (root) {
      history = std::make_unique<train::HistoryWriter>(o.output_dir);
      std::ofstream(o.output_dir + "/config.ini") << o.effective_config;
      train::CheckpointContext context{train::to_proto(o.model), pipeline_of(o, dataset),
                                       dataset.vocabulary().to_proto(), o.effective_config};
      checkpointer = std::make_unique<train::Checkpointer>(o.checkpoint_dir, o.keep, o.best_metric,
                                                           std::move(context));
    }
    auto train_options = o.train;
    train_options.threads = threads;
    train_options.float_sum = float_sum;
    train::Trainer trainer(model, *optimizer, *comm, dataset, o.sequence, train_options,
                           reports ? &progress : nullptr, history.get());
    trainer.set_checkpointer(checkpointer.get());
    trainer.set_stop_request(&stop_requested);
    trainer.set_fault_hook(fault_hook_from_env(comm->rank(), *comm));
    const auto hosts = comm->all_hosts();
    const auto nodes = comm->all_nodes();
    if (root && o.verbosity != train::Verbosity::kQuiet) {
      std::printf("%s", run_header(o, argc, argv, hosts, nodes, threads, dataset, prepared, model,
                                   trainer.validation_ids().size())
                            .c_str());
      std::fflush(stdout);
    }

    pb::Checkpoint resume_from;
    std::string source;
    if (!o.resume.empty() && load_resume_checkpoint(o, *comm, progress, resume_from, source)) {
      check_resumable(resume_from.training(), o, source);
      train::restore(resume_from, source, model, optimizer.get());
      trainer.resume(resume_from.training());
      // The history files start again from the checkpoint's epochs (a crash before the next
      // epoch's end must not leave them empty).
      if (history) history->write(trainer.history());
      const auto& s = resume_from.training();
      if (root)
        progress.message("resumed from " + source + ": epoch " + std::to_string(s.epoch() + 1) +
                       ", step " + std::to_string(s.step_in_epoch()) + " done, global step " +
                       std::to_string(s.global_step()) + " (written by " +
                       std::to_string(s.world_size()) + " rank(s))", true);
    } else {
      trainer.initialize_parameters();
    }

    const auto status = trainer.fit();
    if (status == train::FitStatus::kEarlyStopped && root)
      std::printf("early stopping after epoch %d\n", trainer.history().back().epoch);
    if (status == train::FitStatus::kStopped) {
      comm->barrier();
      return kExitStopped;
    }
    const auto& rows = trainer.history();
    if (!o.no_test && status != train::FitStatus::kMaxSteps) {
      const auto test = dataset.split("test");
      std::vector<std::uint32_t> ids(test.size());
      for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::uint32_t>(i);
      const auto sums = trainer.evaluate(test, ids);
      if (root)
        std::printf("test_loss: %.4f - test_acc: %.4f (%lld reviews)\n", sums.loss(),
                    sums.accuracy(), static_cast<long long>(sums.count));
    }
    if (root) {
      double best = -1;
      int best_epoch = 0;
      for (const auto& r : rows)
        if (r.has_val && r.val_acc > best) best = r.val_acc, best_epoch = r.epoch;
      if (best_epoch > 0)
        std::printf("best val_acc: %.4f (epoch %d); history in %s/history.csv\n", best,
                    best_epoch, o.output_dir.c_str());
      if (!trainer.last_checkpoint().empty())
        std::printf("checkpoint: %s\n", trainer.last_checkpoint().c_str());
    }
    if (root && plot) plot_history(o.output_dir, trainer.history().size(), progress);
    std::fflush(stdout);
    comm->barrier();
  } catch (const std::bad_alloc&) {
    comm->abort(out_of_memory_message("training"), kExitRuntime);
  } catch (const std::exception& e) {
    comm->abort(printable(e.what()), kExitRuntime);
  }
  return kExitOk;
}

}  // namespace rnn_dist::cli
