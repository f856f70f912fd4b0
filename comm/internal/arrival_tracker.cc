#include "comm/internal/arrival_tracker.h"

#include <algorithm>

#include "comm/internal/mpi_check.h"

namespace rnn_dist::comm::internal {

namespace {
constexpr int kArrivalTag = 7;
constexpr std::size_t kInitialSlots = 8;
}  // namespace

ArrivalTracker::~ArrivalTracker() { stop(); }

void ArrivalTracker::start(MPI_Comm comm) {
  comm_ = comm;
  check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  for (std::size_t i = 0; i < kInitialSlots; ++i) slots_.push_back(std::make_unique<SendSlot>());
  if (watcher_index() == kWatchers) return;
  const auto n = static_cast<std::size_t>(size_);
  recv_value_.assign(n, 0);
  recv_request_.assign(n, MPI_REQUEST_NULL);
  last_arrived_.assign(n, 0);
  last_alive_.assign(n, 0);
  completed_.assign(n, 0);
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    const auto i = static_cast<std::size_t>(r);
    check(MPI_Recv_init(&recv_value_[i], 1, MPI_UINT64_T, r, kArrivalTag, comm_, &recv_request_[i]),
          "MPI_Recv_init");
    check(MPI_Start(&recv_request_[i]), "MPI_Start");
  }
}

void ArrivalTracker::stop() {
  if (comm_ == MPI_COMM_NULL) return;
  // The sends are 8-byte eager messages: they complete locally even if never received.
  for (auto& slot : slots_) {
    if (slot->request != MPI_REQUEST_NULL) check(MPI_Wait(&slot->request, MPI_STATUS_IGNORE), "MPI_Wait");
  }
  for (MPI_Request& request : recv_request_) {
    if (request == MPI_REQUEST_NULL) continue;
    check(MPI_Cancel(&request), "MPI_Cancel");
    check(MPI_Wait(&request, MPI_STATUS_IGNORE), "MPI_Wait");
    check(MPI_Request_free(&request), "MPI_Request_free");
  }
  comm_ = MPI_COMM_NULL;
}

ArrivalTracker::SendSlot& ArrivalTracker::free_slot() {
  for (std::size_t tried = 0; tried < slots_.size(); ++tried) {
    SendSlot& slot = *slots_[next_slot_];
    next_slot_ = (next_slot_ + 1) % slots_.size();
    if (slot.request != MPI_REQUEST_NULL) {
      int done = 0;
      check(MPI_Test(&slot.request, &done, MPI_STATUS_IGNORE), "MPI_Test");
      if (!done) continue;
    }
    return slot;
  }
  slots_.push_back(std::make_unique<SendSlot>());
  return *slots_.back();
}

void ArrivalTracker::send_to_watchers(std::uint64_t value) {
  for (int w = 0; w < std::min(kWatchers, size_); ++w) {
    if (w == rank_) continue;
    SendSlot& slot = free_slot();
    slot.value = value;
    check(MPI_Isend(&slot.value, 1, MPI_UINT64_T, w, kArrivalTag, comm_, &slot.request), "MPI_Isend");
  }
}

void ArrivalTracker::arrive(std::uint64_t seq) {
  send_to_watchers(seq);
  if (watcher_index() < kWatchers) {
    last_arrived_[static_cast<std::size_t>(rank_)] = seq;
    drain();
  }
}

void ArrivalTracker::answer_roll_call(std::uint64_t seq) {
  send_to_watchers(seq | kAliveBit);
  if (watcher_index() < kWatchers) last_alive_[static_cast<std::size_t>(rank_)] = seq;
}

void ArrivalTracker::drain() {
  for (;;) {
    int count = 0;
    check(MPI_Testsome(size_, recv_request_.data(), &count, completed_.data(), MPI_STATUSES_IGNORE),
          "MPI_Testsome");
    if (count == MPI_UNDEFINED || count == 0) return;
    for (int k = 0; k < count; ++k) {
      const auto i = static_cast<std::size_t>(completed_[static_cast<std::size_t>(k)]);
      const std::uint64_t v = recv_value_[i];
      if (v & kAliveBit) {
        last_alive_[i] = std::max(last_alive_[i], v & ~kAliveBit);
      } else {
        last_arrived_[i] = std::max(last_arrived_[i], v);
      }
      check(MPI_Start(&recv_request_[i]), "MPI_Start");
    }
  }
}

std::vector<int> ArrivalTracker::missing(std::uint64_t seq) {
  std::vector<int> result;
  if (watcher_index() == kWatchers) return result;
  drain();
  for (int r = 0; r < size_; ++r) {
    if (last_arrived_[static_cast<std::size_t>(r)] < seq) result.push_back(r);
  }
  return result;
}

std::vector<int> ArrivalTracker::silent(std::uint64_t seq) {
  std::vector<int> result;
  if (watcher_index() == kWatchers) return result;
  drain();
  for (int r = 0; r < size_; ++r) {
    const auto i = static_cast<std::size_t>(r);
    if (r != rank_ && last_arrived_[i] >= seq && last_alive_[i] < seq) result.push_back(r);
  }
  return result;
}

}  // namespace rnn_dist::comm::internal
