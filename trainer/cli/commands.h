// The subcommands. Each returns the process exit status; errors are exceptions (UsageError for
// exit status 2, anything else 1). Inside an MPI job the ranks agree on the errors of their
// set-up and end together with that status (agree_on_setup_errors); a later error ends the
// whole job through Communicator::abort with the failing rank's message and the same statuses
// (run_or_abort).
#pragma once

#include "trainer/cli/options.h"

namespace rnn_dist::cli {

// The exit statuses of rnn_dist (README "Exit status"; 75, a collective that timed out, is
// comm::kStatusDeadline). kExitStopped: training stopped on SIGTERM/SIGINT/SIGUSR1 after writing
// a checkpoint; `--resume auto` continues it, and launch/slurm.sbatch requeues the job on it.
enum ExitStatus : int { kExitOk = 0, kExitRuntime = 1, kExitUsage = 2, kExitStopped = 3 };

int run_prepare(const Options& o);
int run_summary(const Options& o);
int run_train(const Options& o, int& argc, char**& argv);
int run_evaluate(const Options& o, int& argc, char**& argv);
int run_predict(const Options& o);
int run_export(const Options& o);
int run_import(const Options& o);

}  // namespace rnn_dist::cli
