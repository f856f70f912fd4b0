// rnn_dist: the command-line entry point. Parses and validates every option before MPI starts
// (so a typo ends every rank at once with one message), then runs the subcommand. Any error after
// that ends the whole job through the communicator, with the failing rank's message.
//
// Exit status: 0 success, 1 runtime error (bad data, training failure), 2 usage error.
#include <unistd.h>

#include <Eigen/Core>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>

#include "comm/mpi_communicator.h"
#include "trainer/cli/options.h"
#include "trainer/cli/run_info.h"
#include "trainer/data/prepared_dataset.h"
#include "trainer/model/model.h"

namespace {

using namespace rnn_dist;

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

// Before MPI starts, print errors from the first rank only, so that `mpirun -np 8` with a typo
// prints one line, not eight.
void print_error_once(const std::string& message) {
  if (cli::launcher_rank() == 0) std::fprintf(stderr, "rnn_dist: error: %s\n", message.c_str());
}

int run_prepare(const cli::Options& o) {
  data::prepare(o.data, o.out);
  const auto dataset = data::PreparedDataset::open(o.out);
  std::printf("%s", cli::dataset_summary(dataset, o.out).c_str());
  return 0;
}

int run_summary(const cli::Options& o) {
  model::Model model(o.model);
  std::printf("%s", model.summary().c_str());
  return 0;
}

int run_train(cli::Options o, int& argc, char**& argv) {
  const std::string data_path = cli::resolve_data_path(o.data);
  cli::check_output_dir(o.output_dir);
  const int threads = cli::choose_threads(o.threads);
  Eigen::setNbThreads(threads);

  auto comm = comm::make_communicator(&argc, &argv);
  try {
    comm->set_deadline(o.collective_timeout);
    const bool root = comm->rank() == 0;
    // Rank 0 prepares the cache (if the data is an aclImdb folder) while the others wait; then
    // every rank finds it ready.
    std::string prepared;
    if (root) prepared = data::ensure_prepared(data_path);
    comm->set_context("waiting for rank 0 to prepare the dataset");
    comm->barrier();
    if (!root) prepared = data::ensure_prepared(data_path);
    const auto dataset = data::PreparedDataset::open(prepared);

    model::Model model(o.model);
    auto optimizer = optim::make_optimizer(o.optimizer, model.params().size());
    const bool interactive = root && isatty(fileno(stdout));
    train::Progress progress(stdout, interactive, o.verbosity);
    std::unique_ptr<train::HistoryWriter> history;
    if (root) {
      history = std::make_unique<train::HistoryWriter>(o.output_dir);
      std::ofstream(o.output_dir + "/config.ini") << o.effective_config;
    }
    train::Trainer trainer(model, *optimizer, *comm, dataset, o.sequence, o.train,
                           root ? &progress : nullptr, history.get());
    const auto hosts = comm->all_hosts();
    if (root && o.verbosity != train::Verbosity::kQuiet) {
      std::printf("%s", cli::run_header(o, argc, argv, hosts, threads, dataset, prepared, model,
                                        trainer.validation_ids().size())
                            .c_str());
      std::fflush(stdout);
    }
    trainer.initialize_parameters();
    const auto& rows = trainer.fit();
    if (o.evaluate_test) {
      const auto test = dataset.split("test");
      std::vector<std::uint32_t> ids(test.size());
      for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::uint32_t>(i);
      const auto sums = trainer.evaluate(test, ids);
      if (root)
        std::printf("test_loss: %.4f - test_acc: %.4f (%.0f reviews)\n", sums.loss(),
                    sums.accuracy(), sums.count);
    }
    if (root && !rows.empty()) {
      double best = 0;
      int best_epoch = 0;
      for (const auto& r : rows)
        if (r.has_val && r.val_acc > best) best = r.val_acc, best_epoch = r.epoch;
      if (best_epoch > 0)
        std::printf("best val_acc: %.4f (epoch %d); history in %s/history.csv\n", best, best_epoch,
                    o.output_dir.c_str());
    }
    std::fflush(stdout);
    comm->barrier();
  } catch (const std::exception& e) {
    comm->abort(e.what(), kExitRuntime);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  cli::Options options;
  try {
    options = cli::parse_options(argc, argv);
  } catch (const cli::UsageError& e) {
    print_error_once(e.what());
    return kExitUsage;
  }
  if (options.help) {
    if (cli::launcher_rank() == 0) std::printf("%s", options.help_text.c_str());
    return 0;
  }
  if (options.version) {
    if (cli::launcher_rank() == 0) std::printf("rnn_dist %s\n", cli::version());
    return 0;
  }
  try {
    switch (options.command) {
      case cli::Command::kPrepare: return run_prepare(options);
      case cli::Command::kSummary: return run_summary(options);
      case cli::Command::kTrain: return run_train(std::move(options), argc, argv);
    }
  } catch (const cli::UsageError& e) {
    print_error_once(e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    print_error_once(e.what());
    return kExitRuntime;
  }
  return 0;
}
