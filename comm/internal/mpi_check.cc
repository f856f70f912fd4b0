#include "comm/internal/mpi_check.h"

#include <unistd.h>

#include <algorithm>

#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "comm/mpi_communicator.h"

namespace rnn_dist::comm::internal {

namespace {

// The abort's own watchdog: MPI_Abort asks the launcher to end the job, which needs the launcher.
// When this host cannot reach it (a dead link, a partitioned network), MPI_Abort may never
// return nor end the process; after kAbortSeconds the process ends itself with the same status,
// so that no rank is left on any host. (alarm and _exit are async-signal-safe.)
constexpr unsigned kAbortSeconds = 10;
volatile std::sig_atomic_t g_abort_status = 1;
char g_abort_note[512];
std::size_t g_abort_note_len = 0;

extern "C" void on_abort_alarm(int) {
  [[maybe_unused]] const ssize_t written = write(STDERR_FILENO, g_abort_note, g_abort_note_len);
  _exit(g_abort_status);
}

void arm_abort_watchdog(const std::string& prefix, int status) {
  g_abort_status = status;
  const int n = std::snprintf(g_abort_note, sizeof g_abort_note,
                              "%sthe job's abort did not finish within %u s (launcher unreachable?); "
                              "this rank exits by itself\n",
                              prefix.c_str(), kAbortSeconds);
  g_abort_note_len = n > 0 ? std::min(static_cast<std::size_t>(n), sizeof g_abort_note - 1) : 0;
  struct sigaction action {};
  action.sa_handler = on_abort_alarm;
  sigemptyset(&action.sa_mask);
  sigaction(SIGALRM, &action, nullptr);
  alarm(kAbortSeconds);
}

bool mpi_is_live() {
  int initialized = 0;
  int finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

}  // namespace

void abort_job(const std::string& message, int status) {
  const bool live = mpi_is_live();
  std::string rank = "?";
  char host[MPI_MAX_PROCESSOR_NAME + HOST_NAME_MAX + 2] = {};
  int host_len = 0;
  if (live) {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    rank = std::to_string(r);
    MPI_Get_processor_name(host, &host_len);
  } else if (gethostname(host, HOST_NAME_MAX) != 0) {
    host[0] = '\0';
  }
  // One write() of the whole line, so lines of ranks that abort together do not interleave.
  const std::string prefix = "rnn_dist: rank " + rank + " (" + host + "): ";
  const std::string line = prefix + message + "\n";
  std::fflush(stdout);
  std::fflush(stderr);
  [[maybe_unused]] const ssize_t written = write(STDERR_FILENO, line.data(), line.size());
  if (live) {
    arm_abort_watchdog(prefix, status);
    MPI_Abort(MPI_COMM_WORLD, status);
  }
  std::_Exit(status);
}

void fail_mpi(int rc, const char* what) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) len = 0;
  abort_job(std::string(what) + " failed: " + std::string(text, static_cast<std::size_t>(len)),
            kStatusMpiError);
}

}  // namespace rnn_dist::comm::internal
