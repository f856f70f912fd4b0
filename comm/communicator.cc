#include "comm/communicator.h"

#include <atomic>

namespace rnn_dist::comm {

namespace {
std::atomic<void (*)()> g_before_abort{nullptr};
}  // namespace

void set_before_abort(void (*hook)()) { g_before_abort.store(hook); }

void run_before_abort() {
  if (auto* hook = g_before_abort.exchange(nullptr)) hook();
}

}  // namespace rnn_dist::comm
