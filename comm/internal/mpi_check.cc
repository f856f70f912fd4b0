#include "comm/internal/mpi_check.h"

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

#include "comm/mpi_communicator.h"

namespace rnn_dist::comm::internal {

namespace {

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
  const std::string line = "rnn_dist: rank " + rank + " (" + host + "): " + message + "\n";
  std::fflush(stdout);
  std::fflush(stderr);
  [[maybe_unused]] const ssize_t written = write(STDERR_FILENO, line.data(), line.size());
  if (live) MPI_Abort(MPI_COMM_WORLD, status);
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
