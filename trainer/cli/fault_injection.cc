#include "trainer/cli/fault_injection.h"

#include <unistd.h>

#include <csignal>
#include <limits>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>

#include "trainer/cli/options.h"

namespace rnn_dist::cli {

std::function<void(std::uint64_t, std::span<float>)> fault_hook_from_env(int rank) {
  const char* env = std::getenv("RNN_DIST_FAULT");
  if (!env || !*env) return {};
  std::string kind;
  int fault_rank = -1;
  unsigned long long step = 0;
  std::istringstream in(env);
  char c1 = 0, c2 = 0;
  std::getline(in, kind, ':');
  in >> fault_rank >> c1 >> step;
  (void)c2;
  if (!in || c1 != ':' || (kind != "throw" && kind != "stop" && kind != "exit" && kind != "nan"))
    throw UsageError(std::string("RNN_DIST_FAULT '") + env + "' must be throw|stop|exit|nan:RANK:STEP");
  if (fault_rank != rank) return {};
  return [kind, step](std::uint64_t global_step, std::span<float> params) {
    if (global_step != step) return;
    if (kind == "nan" && !params.empty()) params.back() = std::numeric_limits<float>::quiet_NaN();
    if (kind == "throw")
      throw std::runtime_error("injected fault (RNN_DIST_FAULT) before global step " +
                               std::to_string(step));
    if (kind == "stop") ::raise(SIGSTOP);
    if (kind == "exit") ::_exit(9);
  };
}

}  // namespace rnn_dist::cli
