// Private to comm/: who has arrived at which collective, and who still answers inside it, so that
// a deadline can name the ranks that did not arrive or that stopped after arriving.
//
// Every collective has a sequence number N (1, 2, ... in call order, the same on every rank).
// On entering collective N with a deadline set, each rank sends N (one uint64, non-blocking, on
// its own duplicate communicator so it never matches collective traffic) to the two "watchers",
// ranks 0 and 1. A watcher keeps one persistent receive posted per peer; since messages between
// two ranks are non-overtaking, the last value received from rank r is the last collective r
// entered. Watchers drain their receives at every collective entry (one MPI_Testsome), so the
// unexpected-message queue holds at most a few messages per peer.
//
// Roll call: a rank whose own deadline in collective N passed sends N with kAliveBit set
// ("still here, waiting in N") to the watchers. A rank that arrived at N but never answers the
// roll call has stopped (SIGSTOP, a frozen host, a dead link) inside the collective.
//
// Cost per collective: one or two 8-byte eager sends per rank, one MPI_Testsome on a watcher.
// No allocation in the steady state: send slots are reused once their send completed (a slot
// is added only if all are still in flight, which needs a watcher far behind).
#pragma once

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace rnn_dist::comm::internal {

class ArrivalTracker {
 public:
  static constexpr int kWatchers = 2;  // ranks 0 and 1 collect arrivals

  ArrivalTracker() = default;
  ~ArrivalTracker();
  ArrivalTracker(const ArrivalTracker&) = delete;
  ArrivalTracker& operator=(const ArrivalTracker&) = delete;

  // REQUIRES: `comm` is used by nothing else, has MPI_ERRORS_RETURN, and outlives stop().
  void start(MPI_Comm comm);
  // Completes the sends of this rank and cancels the receives. Called before MPI_Finalize.
  void stop();

  // This rank enters collective `seq`: tells the watchers.
  void arrive(std::uint64_t seq);
  // This rank's deadline in collective `seq` passed and it is still waiting: tells the watchers.
  void answer_roll_call(std::uint64_t seq);

  // Index among the watchers (0 for rank 0, 1 for rank 1), or kWatchers if not a watcher.
  int watcher_index() const { return rank_ < kWatchers ? rank_ : kWatchers; }

  // On a watcher: the ranks that have not yet entered collective `seq` (after draining every
  // arrival message that has come in).
  std::vector<int> missing(std::uint64_t seq);
  // On a watcher: the ranks that arrived at `seq` but have not answered its roll call (this rank
  // excluded; call after the others' deadlines have passed).
  std::vector<int> silent(std::uint64_t seq);

 private:
  struct SendSlot {
    std::uint64_t value = 0;
    MPI_Request request = MPI_REQUEST_NULL;
  };

  static constexpr std::uint64_t kAliveBit = std::uint64_t{1} << 63;

  void send_to_watchers(std::uint64_t value);
  void drain();
  SendSlot& free_slot();

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  std::vector<std::unique_ptr<SendSlot>> slots_;  // pointers stay put while MPI holds them
  std::size_t next_slot_ = 0;
  // Watchers only: one persistent receive per peer (MPI_REQUEST_NULL for this rank).
  std::vector<std::uint64_t> recv_value_;
  std::vector<MPI_Request> recv_request_;
  std::vector<std::uint64_t> last_arrived_;
  std::vector<std::uint64_t> last_alive_;  // last collective whose roll call the rank answered
  std::vector<int> completed_;  // scratch for MPI_Testsome
};

}  // namespace rnn_dist::comm::internal
