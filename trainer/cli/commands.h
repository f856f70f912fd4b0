// The subcommands. Each returns the process exit status; errors are exceptions (UsageError for
// exit status 2, anything else 1). Inside an MPI job the ranks agree on the errors of their
// set-up and end together with that status (agree_on_setup_errors); a later error ends the
// whole job through Communicator::abort with the failing rank's message and the same statuses
// (run_or_abort).
#pragma once

#include "trainer/cli/options.h"

namespace rnn_dist::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitUsage = 2;
// Training stopped on SIGTERM/SIGINT/SIGUSR1 after writing a checkpoint; `--resume auto`
// continues it. launch/slurm.sbatch requeues the job on this status.
inline constexpr int kExitStopped = 3;

int run_prepare(const Options& o);
int run_summary(const Options& o);
int run_train(const Options& o, int& argc, char**& argv);
int run_evaluate(const Options& o, int& argc, char**& argv);
int run_predict(const Options& o);

}  // namespace rnn_dist::cli
