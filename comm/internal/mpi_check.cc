#include "comm/internal/mpi_check.h"

#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "comm/communicator.h"
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

// The launcher's own watchdog. Open MPI 4.1's mpirun ends a job by telling every host's daemon
// to kill its ranks and waiting for each answer; a host whose link died never answers, and TCP
// gives up on data in flight only after its retransmissions (net.ipv4.tcp_retries2, ~15 min;
// keepalive does not apply while data is unacknowledged). The daemon on such a host waits for
// mpirun the same way. So an aborting rank leaves behind a small process of its own session that
// SIGKILLs its parent, when that is Open MPI's launcher (mpirun or an orted), if it has not
// ended kReaperSeconds later, and exits as soon as the parent is gone.
constexpr int kReaperSeconds = 20;

void spawn_launcher_reaper() {
  const pid_t parent = getppid();
  std::string name;
  std::ifstream("/proc/" + std::to_string(parent) + "/comm") >> name;
  if (name != "mpirun" && name != "orterun" && name != "mpiexec" && name != "orted") return;
  const std::string pid = std::to_string(parent);
  // /proc/PID/comm is checked again before the kill, so a reused pid is never hit.
  const std::string script = "i=0; while [ $i -lt " + std::to_string(kReaperSeconds * 2) +
                             " ]; do [ -e /proc/" + pid + " ] || exit 0; sleep 0.5; i=$((i+1)); "
                             "done; [ \"$(cat /proc/" + pid + "/comm 2>/dev/null)\" = " + name +
                             " ] && kill -KILL " + pid;
  // None of the rank's descriptors: Open MPI counts a rank as ended only once its output pipes
  // close, and its sockets must close with it.
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&files, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&files, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  const char* argv[] = {"sh", "-c", script.c_str(), nullptr};
  pid_t child = 0;
  posix_spawn(&child, "/bin/sh", &files, &attr, const_cast<char* const*>(argv), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&files);
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
  run_before_abort();
  std::fflush(stdout);
  std::fflush(stderr);
  [[maybe_unused]] const ssize_t written = write(STDERR_FILENO, line.data(), line.size());
  if (live) {
    arm_abort_watchdog(prefix, status);
    spawn_launcher_reaper();
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
