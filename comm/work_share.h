// Work sharing without messages: one 64-bit word, in memory that the ranks of a node (or the
// threads of one process) share, hands out the indices 0, 1, ..., items - 1 of a round's list,
// each once, to whichever caller asks first.
//
// The word holds the round's tag (upper 32 bits) and the next index (lower 32). A caller names
// the round; the first caller of a new round finds an older tag and starts the count afresh,
// so nobody has to reset the word between rounds (no caller knows when the last caller of the
// previous round is done). A round's tag must differ from the previous round's: the
// communicators use the number of collectives started, which every rank agrees on between two
// collectives and which grows by at least one between rounds (see Communicator::take_work).
//
// Thread-safe and process-safe: lock-free 64-bit atomics on x86-64 are address-free, so the word
// may live in a shared memory window mapped at different addresses in different processes.
#pragma once

#include <atomic>
#include <cstdint>

namespace rnn_dist::comm {

// The next index of `round`'s list of `items`, or -1 once all were taken. REQUIRES:
// 0 <= items < 2^31, the same items for every caller of the round.
inline std::int64_t take_from(std::uint64_t& word, std::uint64_t round, std::int64_t items) {
  static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free);
  const std::uint64_t tag = (round + 1) & 0xffffffffu;  // + 1: a zeroed word names no round
  std::atomic_ref<std::uint64_t> shared(word);
  std::uint64_t seen = shared.load();
  for (;;) {
    const std::uint64_t index = (seen >> 32) == tag ? (seen & 0xffffffffu) : 0;
    if (index >= static_cast<std::uint64_t>(items)) return -1;
    if (shared.compare_exchange_weak(seen, (tag << 32) | (index + 1)))
      return static_cast<std::int64_t>(index);
  }
}

}  // namespace rnn_dist::comm
