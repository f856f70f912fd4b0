// Private to comm/: error handling for MPI calls. Includes <mpi.h>; never include from a public
// header.
#pragma once

#include <mpi.h>

#include <string>

namespace rnn_dist::comm::internal {

// Ends the job: writes "rnn_dist: rank R (host): <message>" as one line to stderr, flushes, then
// MPI_Abort(MPI_COMM_WORLD, status). Without a live MPI (not yet initialised, or finalised) it
// exits the process with `status` instead. Safe to call from one rank alone.
[[noreturn]] void abort_job(const std::string& message, int status);

[[noreturn]] void fail_mpi(int rc, const char* what);

// REQUIRES: the communicator the call used has MPI_ERRORS_RETURN.
inline void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) [[unlikely]] fail_mpi(rc, what);
}

}  // namespace rnn_dist::comm::internal
