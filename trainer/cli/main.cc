// rnn_dist: the command-line entry point. Parses and validates every option before MPI starts,
// so that a typo ends every rank at once with one message, then runs the subcommand.
//
// Exit status: 0 success, 1 runtime error (bad data, training failure, a failed rank; predict:
// some reviews could not be scored), 2 usage error (an option, a path that names nothing
// usable, a checkpoint or data these options cannot use; before or after MPI starts), 3 training
// stopped by a signal after a checkpoint (see commands.h), 75 a collective timed out
// (comm::kStatusDeadline).
#include <cstdio>
#include <exception>
#include <new>

#include "trainer/cli/commands.h"
#include "trainer/cli/option_checks.h"
#include "trainer/cli/options.h"
#include "trainer/cli/run_info.h"
#include "trainer/model/denormals.h"

namespace {

using namespace rnn_dist;

// Option errors are the same on every rank: print them from the first rank only, so that
// `mpirun -np 8` with a typo prints one line, not eight.
void print_error_once(const std::string& message) {
  if (cli::launcher_rank() == 0)
    std::fprintf(stderr, "rnn_dist: error: %s\n", cli::printable(message).c_str());
}

// Errors of the commands that run without MPI (prepare, summary, predict, export, import): one
// process.
void print_error(const std::string& message) {
  std::fprintf(stderr, "rnn_dist: error: %s\n", cli::printable(message).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  cli::Options options;
  try {
    options = cli::parse_options(argc, argv);
  } catch (const cli::UsageError& e) {
    print_error_once(e.what());
    return cli::kExitUsage;
  }
  if (options.help || options.version) {
    if (cli::launcher_rank() == 0) {
      if (options.help) std::printf("%s", options.help_text.c_str());
      else std::printf("rnn_dist %s\n", cli::version());
    }
    return cli::kExitOk;
  }
  // Before anything computes; threads started later inherit it (and the trainer's set it too).
  model::set_flush_denormals(options.denormals == "flush");
  try {
    switch (options.command) {
      case cli::Command::kPrepare: return cli::run_prepare(options);
      case cli::Command::kSummary: return cli::run_summary(options);
      case cli::Command::kTrain: return cli::run_train(options, argc, argv);
      case cli::Command::kEvaluate: return cli::run_evaluate(options, argc, argv);
      case cli::Command::kPredict: return cli::run_predict(options);
      case cli::Command::kExport: return cli::run_export(options);
      case cli::Command::kImport: return cli::run_import(options);
    }
  } catch (const cli::UsageError& e) {
    print_error(e.what());
    return cli::kExitUsage;
  } catch (const std::bad_alloc&) {
    print_error(cli::out_of_memory_message("this command"));
    return cli::kExitRuntime;
  } catch (const std::exception& e) {
    print_error(e.what());
    return cli::kExitRuntime;
  }
  return cli::kExitOk;
}
