// The few collective verbs that training needs, behind an interface without MPI in it.
//
// trainer/ programs against Communicator; comm/ provides MpiCommunicator (the real one, the only
// code in the project that includes <mpi.h>; train and evaluate use it, also without mpirun) and
// LocalCommunicator (one process, no MPI: GradientStep's unit tests in tests/train and the
// training-step benchmark run on it). Element counts are size_t; implementations chunk them
// below INT_MAX.
//
// Every method but take_work is collective: all ranks must call it in the same order with the
// same sizes.
// A failure inside a collective (or a deadline passed, see set_deadline) never returns to the
// caller: it ends the whole job with a message, so no rank is left waiting in a collective.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace rnn_dist::comm {

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Host name of this process (for the run header and messages).
  virtual std::string host() const = 0;
  // Host names of all ranks, by rank (gathered once when the communicator starts).
  virtual std::vector<std::string> all_hosts() = 0;
  // The node (shared-memory domain, as the launcher placed the ranks) of every rank, by rank,
  // numbered 0..nodes-1 in order of their lowest rank. Host names can repeat across nodes
  // (simulated hosts, containers); these cannot.
  virtual std::vector<int> all_nodes() = 0;
  // Ranks on this rank's node (itself included).
  virtual int local_size() const = 0;

  // Work sharing among ranks, without messages (work_share.h): between two collectives, the
  // calls of take_work(items) by all ranks of one work group, and by all their threads, return
  // 0, 1, ..., items - 1, each index once, to whichever caller asks first, and then -1. So the
  // ranks of a group take a common list's items as they become free, and a rank slowed by the
  // machine (another process on its core, a busy hypervisor) takes fewer.
  // REQUIRES: every rank of the group passes the same items between the same two collectives.
  // Unlike every other method, not collective and callable from any thread: one atomic update
  // of a word that the group's processes share.
  virtual std::int64_t take_work(std::int64_t items) = 0;
  // The work group of every rank, by rank, numbered 0..groups-1 in order of their lowest rank:
  // the nodes of all_nodes(), or one group per rank where MPI could not give the node's
  // processes a shared memory window.
  virtual std::vector<int> all_work_groups() = 0;

  // data on every rank becomes rank 0's data. REQUIRES: same data.size() on every rank.
  virtual void broadcast(std::span<float> data) = 0;
  virtual void broadcast(std::span<std::uint8_t> data) = 0;
  // data on every rank becomes the element-wise sum over ranks.
  virtual void allreduce_sum(std::span<float> data) = 0;
  virtual void allreduce_sum(std::span<double> data) = 0;
  // Integers add exactly in any order, so this sum is the same bits on any number of ranks
  // (the fixed-point gradients and metric sums of training, see trainer/train/exact_sum.h).
  virtual void allreduce_sum(std::span<std::int64_t> data) = 0;
  // Element-wise max over ranks (used for the slowest rank's timings).
  virtual void allreduce_max(std::span<double> data) = 0;
  // Element-wise bitwise OR over ranks (bitmaps: which rows some rank has, row_sparse.h).
  virtual void allreduce_or(std::span<std::uint64_t> data) = 0;
  // True on every rank iff `flag` is true on at least one rank ("any rank wants to stop").
  virtual bool any(bool flag) = 0;
  // Waits until every rank arrives.
  virtual void barrier() = 0;

  // Ends the whole job now with `message` (printed once, prefixed with this rank) and `status`.
  // Safe to call from one rank alone. Never returns.
  [[noreturn]] virtual void abort(const std::string& message, int status) = 0;

  // A collective that has not completed `seconds` after it started (arriving, moving the data,
  // every wait inside it) ends the job with one message naming the ranks, and their hosts, that
  // did not arrive or that arrived and stopped answering, and the context (set_context, e.g.
  // "epoch 2 step 31"). seconds <= 0 disables the deadline.
  virtual void set_deadline(double seconds) = 0;
  virtual void set_context(const std::string& context) = 0;

  // Fault injection for tests: runs `fault` once, inside the next collective, after this rank
  // has arrived and started moving its data (so that a rank can stop or die mid-transfer).
  virtual void inject_fault_in_next_collective(std::function<void()> fault) = 0;
};

// Process-wide: `hook` runs on the thread that ends the job (Communicator::abort, a deadline
// that passed), just before the message is written; e.g. a progress bar ends its open line
// there, so that the message starts a line of its own. nullptr: none. The hook must be quick and
// must not throw or call abort itself.
void set_before_abort(void (*hook)());
// Runs the hook, if any (what the implementations of abort call).
void run_before_abort();

}  // namespace rnn_dist::comm
