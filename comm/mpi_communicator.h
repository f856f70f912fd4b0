// The real Communicator: MPI underneath, MPI-free in this header (the state lives in Impl).
//
// Lifetime: the constructor initialises MPI (MPI_Init_thread, FUNNELED) unless it already is, and
// the destructor finalises it if the constructor initialised it. At most one MpiCommunicator may
// exist per process. It works without mpirun too (Open MPI singleton: rank 0 of 1).
//
// Errors: every MPI call on this communicator returns its error code (MPI_ERRORS_RETURN on a
// duplicate of MPI_COMM_WORLD); a failure ends the job through abort() with the MPI error text.
// The documented pattern for a program's main:
//
//   auto comm = rnn_dist::comm::make_communicator(&argc, &argv);
//   try { return run(*comm); }
//   catch (const std::exception& e) { comm->abort(e.what(), 1); }
//
// Should an exception unwind through the destructor anyway, or std::terminate be called, the job
// is aborted (MPI_Abort) rather than finalised, so no peer is left waiting in a collective.
//
// Threads: call every method from the thread that constructed the communicator, except
// take_work, which any thread may call.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "comm/communicator.h"

namespace rnn_dist::comm {

// Exit statuses with which comm/ itself ends a job. With Open MPI 4.1, mpirun exits with the
// status that the (first) aborting rank passed to MPI_Abort.
inline constexpr int kStatusMpiError = 70;   // an MPI call failed
inline constexpr int kStatusDeadline = 75;   // a collective did not complete before its deadline

// When this environment variable is set (launch/rnn_mpirun.sh sets it and passes it to every
// rank), rank 0 prints one line to stdout, kStartAnnouncement followed by "R ranks on H hosts",
// as soon as every rank is past MPI_Init: the launcher's sign that the whole job started.
inline constexpr const char* kStartAnnouncementVariable = "RNN_DIST_ANNOUNCE_START";
inline constexpr const char* kStartAnnouncement = "rnn_dist: started ";

class MpiCommunicator final : public Communicator {
 public:
  // argc/argv may be null. Aborts the job (or exits, if MPI cannot start) on failure.
  MpiCommunicator(int* argc, char*** argv);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override;
  int size() const override;
  std::string host() const override;
  std::vector<std::string> all_hosts() override;
  std::vector<int> all_nodes() override;
  int local_size() const override;
  std::int64_t take_work(std::int64_t items) override;
  std::vector<int> all_work_groups() override;

  void broadcast(std::span<float> data) override;
  void broadcast(std::span<std::uint8_t> data) override;
  void allreduce_sum(std::span<float> data) override;
  void allreduce_sum(std::span<double> data) override;
  void allreduce_sum(std::span<std::int64_t> data) override;
  void allreduce_max(std::span<double> data) override;
  void allreduce_or(std::span<std::uint64_t> data) override;
  bool any(bool flag) override;
  void barrier() override;

  // Prints "rnn_dist: rank R (host): <message>" as one line to stderr, then
  // MPI_Abort(MPI_COMM_WORLD, status): every rank of the job ends, stopped ones included.
  [[noreturn]] void abort(const std::string& message, int status) override;

  // REQUIRES: every rank sets the same deadline between the same two collectives.
  // Every collective is made of non-blocking MPI calls completed by polling (MPI_Testall, then
  // short sleeps), so the deadline covers all of it: arriving, moving the data and every wait.
  // With seconds > 0 each rank reports its arrival to ranks 0 and 1 (internal/arrival_tracker.h);
  // when its deadline passes a rank answers a roll call, and a little later rank 0 (or rank 1,
  // when rank 0 is the one stuck) ends the job naming the ranks, and their hosts, that did not
  // arrive or that arrived and then stopped answering. With seconds <= 0 there is no deadline.
  void set_deadline(double seconds) override;
  void set_context(const std::string& context) override;
  void inject_fault_in_next_collective(std::function<void()> fault) override;

  // How sums of 4,096 elements or more move: through a window of memory that the ranks share,
  // when all ranks are on one node (the default there; see comm/README.md); round a ring of
  // point-to-point messages (the default across nodes); both covered by the deadline. Or with
  // Open MPI's own blocking MPI_Allreduce, which the deadline does not cover (benchmarks only).
  // Also RNN_DIST_ALLREDUCE=shared-memory|ring|mpi-blocking. kSharedMemory where there is no
  // window means the ring. Same on every rank.
  enum class SumAlgorithm { kRing, kMpiBlocking, kSharedMemory };
  void set_sum_algorithm(SumAlgorithm algorithm);
  // True if the ranks share a window for sums (all on one node, and MPI gave one).
  bool shared_memory_sums() const;

  // For tests: the largest number of elements passed to one MPI call (default INT_MAX), so that
  // chunking is exercised with small buffers. REQUIRES: >= 1, same on every rank.
  void set_max_chunk(std::size_t elements);

 private:
  void gather_placement();
  void share_work();
  void share_sums();
  void announce_start();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The communicator for a program: an MpiCommunicator (rank 0 of 1 when run without mpirun).
std::unique_ptr<Communicator> make_communicator(int* argc, char*** argv);

}  // namespace rnn_dist::comm
