// What the command line prints and checks about the run around the training itself: the rank
// known from the launcher before MPI starts, the thread choice, the output folder, the header.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "trainer/cli/options.h"
#include "trainer/data/prepared_dataset.h"
#include "trainer/model/model.h"

namespace rnn_dist::cli {

const char* version();

// This process's rank as the launcher tells it in the environment (Open MPI, PMI, Slurm), before
// MPI is initialised; 0 when not launched by any of them.
int launcher_rank();
// True when started by mpirun/srun (whatever the number of ranks).
bool under_launcher();
// Whether rank 0 should redraw a progress bar: --progress bar, or auto on a terminal outside a
// launcher.
bool progress_bar_wanted(const std::string& progress);
// Threads per rank: `requested` if > 0, else the cores this process may run on divided among the
// `local_ranks` ranks of this node (Communicator::local_size, the same node count the run header
// shows; at least 1), so that ranks x threads never oversubscribes the cores.
int choose_threads(int requested, int local_ranks);

// Creates `dir` if needed and checks that a file can be written in it. Throws UsageError naming
// the option (`flag`, e.g. "--checkpoint-dir") and the folder otherwise.
void check_output_dir(const std::string& flag, const std::string& dir);

// Collective. Every rank passes the error of its own set-up checks ("" if none) and the exit
// status it means (kExitUsage, kExitRuntime); when any rank failed, the lowest failing rank
// prints its message once (naming itself, its host and how many other ranks failed, unless
// every rank failed) and every rank returns that rank's status, so that all can end normally
// with the same status instead of one rank aborting the others. Returns 0 if no rank failed.
int agree_on_setup_errors(comm::Communicator& comm, const std::string& error, int status);

// What an exception ends a command with: the message and the documented status, 2 for a
// UsageError (a usage error is 2 wherever it is found), else 1; std::bad_alloc becomes the
// out-of-memory line for `what` (e.g. "training", "loading x.rnnd").
struct Failure {
  std::string message;
  int status = 0;  // 0: `step` returned normally
};
Failure failure_of(const std::string& what, const std::function<void()>& step);

// Runs `work`, the part of a subcommand that every rank runs once the ranks agreed on their
// set-up, and returns its status. An exception there ends the whole job through comm.abort
// with its message and the documented status: 2 for a UsageError (a usage error is 2 wherever
// it is found), else 1 (`what`, e.g. "training", names the work in an out-of-memory message).
int run_or_abort(comm::Communicator& comm, const std::string& what,
                 const std::function<int()>& work);

// Collective. Rank 0 prepares the cache of `data_path` (if it is an aclImdb folder) while the
// others wait, with a deadline of at least kPrepareSeconds for that wait (then
// `collective_timeout` again); then every rank opens the prepared file into `dataset` and its
// path into `prepared`. A failure on any rank (not a prepared dataset, a damaged one, a folder
// that cannot be prepared) is agreed as a set-up error (agree_on_setup_errors: one line from
// the lowest failing rank, no MPI_Abort): returns its status (2 for a UsageError, else 1), and
// 0 when every rank has the dataset open.
inline constexpr double kPrepareSeconds = 600;
int open_dataset(comm::Communicator& comm, const std::string& data_path,
                 double collective_timeout, std::optional<data::PreparedDataset>& dataset,
                 std::string& prepared);

// Collective. The dataset every rank opened must be the same (a host with another copy would
// train on other examples): returns the error of this rank ("" if its data matches rank 0's),
// naming its path and rank 0's host and path, for agree_on_setup_errors.
std::string check_same_data(comm::Communicator& comm, const data::PreparedDataset& dataset,
                            const std::string& path);

// Split sizes, vocabulary size and token statistics of a prepared dataset.
std::string dataset_summary(const data::PreparedDataset& dataset, const std::string& path);

// The run header printed by rank 0: command, version, ranks and hosts, threads per rank, data,
// model summary, global and per-rank batch, optimizer.
std::string run_header(const Options& o, int argc, char** argv,
                       const std::vector<std::string>& hosts, const std::vector<int>& nodes,
                       int threads,
                       const data::PreparedDataset& dataset, const std::string& prepared_path,
                       const model::Model& model, std::size_t validation_examples);

}  // namespace rnn_dist::cli
