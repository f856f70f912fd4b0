#include "trainer/cli/fault_injection.h"

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <limits>
#include <map>
#include <regex>
#include <stdexcept>
#include <string>

#include "trainer/cli/options.h"

namespace rnn_dist::cli {

namespace {

using Point = train::Trainer::FaultPoint;

const std::map<std::string, Point>& points() {
  static const std::map<std::string, Point> table{{"step", Point::kStep},
                                                  {"allreduce", Point::kAllreduce},
                                                  {"epoch-end", Point::kEpochEnd},
                                                  {"validation", Point::kValidation},
                                                  {"checkpoint", Point::kCheckpoint}};
  return table;
}

// `where`: "before global step N" or "in the all-reduce after global step N", etc.
void act(const std::string& kind, const std::string& where) {
  if (kind == "stop") ::raise(SIGSTOP);  // returns when continued (SIGCONT)
  if (kind == "kill") ::raise(SIGKILL);
  if (kind == "exit") ::_exit(9);
  if (kind == "throw") throw std::runtime_error("injected fault (RNN_DIST_FAULT) " + where);
}

}  // namespace

train::Trainer::FaultHook fault_hook_from_env(int rank, comm::Communicator& comm) {
  const char* env = std::getenv("RNN_DIST_FAULT");
  if (!env || !*env) return {};
  static const std::regex format(R"(^(throw|stop|exit|kill|nan):([0-9]+):([0-9]+)(@([a-z-]+))?$)");
  std::smatch m;
  const std::string value = env;
  if (!std::regex_match(value, m, format) || (m[5].matched && !points().contains(m[5].str())))
    throw UsageError("RNN_DIST_FAULT '" + value +
                     "' must be throw|stop|exit|kill|nan:RANK:STEP[@step|allreduce|epoch-end|"
                     "validation|checkpoint]");
  if (std::stoi(m[2].str()) != rank) return {};
  const std::string kind = m[1].str();
  const std::uint64_t step = std::stoull(m[3].str());
  const Point point = m[5].matched ? points().at(m[5].str()) : Point::kStep;
  const std::string name = m[5].matched ? m[5].str() : "step";
  return [kind, step, point, name, &comm, fired = false](Point here, std::uint64_t done,
                                                         std::span<float> params) mutable {
    if (fired || here != point || done < step) return;
    fired = true;
    if (kind == "nan") {
      if (!params.empty()) params.back() = std::numeric_limits<float>::quiet_NaN();
      return;
    }
    const std::string where = point == Point::kStep
                                  ? "before global step " + std::to_string(done)
                                  : "at " + name + " after global step " + std::to_string(done);
    if (point == Point::kAllreduce || point == Point::kEpochEnd) {
      // Inside the collective that follows: the rank has arrived and started sending.
      comm.inject_fault_in_next_collective([kind, where] { act(kind, where); });
      return;
    }
    act(kind, where);
  };
}

}  // namespace rnn_dist::cli
