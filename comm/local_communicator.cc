#include "comm/local_communicator.h"

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

namespace rnn_dist::comm {

LocalCommunicator::LocalCommunicator() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name) != 0) name[0] = '\0';
  name[HOST_NAME_MAX] = '\0';
  host_ = name[0] != '\0' ? name : "localhost";
}

void LocalCommunicator::abort(const std::string& message, int status) {
  const std::string line = "rnn_dist: rank 0 (" + host_ + "): " + message + "\n";
  run_before_abort();
  std::fflush(stdout);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  std::_Exit(status);
}

}  // namespace rnn_dist::comm
