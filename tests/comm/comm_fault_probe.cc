// A training-like loop of all-reduces that misbehaves on purpose, for fault_tests.sh.
//
//   comm_fault_probe <mode> <rank> [--step K] [--deadline S] [--pid-dir DIR]
//
// modes: throw-on-rank  rank <rank> throws at step K; main catches and calls comm.abort(what, 3)
//                       while the other ranks wait in a blocking all-reduce (no deadline needed)
//        uncaught-on-rank  rank <rank> throws at step K and nothing catches it (std::terminate)
//        stop-rank      rank <rank> raise(SIGSTOP)s before step K's all-reduce; the others wait
//                       with the deadline S and context "epoch 1 step K"
//        stop-inside    rank <rank> raise(SIGSTOP)s inside step K's all-reduce, after arriving and
//                       posting its first ring message (inject_fault_in_next_collective)
//        kill-inside    the same with SIGKILL (a rank that dies mid-transfer)
//        none           every rank behaves (exits 0)
// With --pid-dir each rank writes its pid to DIR/rank<R>.pid first, so the script can check that
// no process is left afterwards.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "comm/mpi_communicator.h"

namespace {

struct Options {
  std::string mode = "none";
  int rank = -1;
  int step = 3;
  double deadline = 0;
  std::string pid_dir;
};

Options parse(int argc, char** argv) {
  Options o;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const bool has_value = i + 1 < args.size();
    if (args[i] == "--step" && has_value) {
      o.step = std::stoi(args[++i]);
    } else if (args[i] == "--deadline" && has_value) {
      o.deadline = std::stod(args[++i]);
    } else if (args[i] == "--pid-dir" && has_value) {
      o.pid_dir = args[++i];
    } else if (o.mode == "none" && i == 0) {
      o.mode = args[i];
    } else if (o.rank < 0) {
      o.rank = std::stoi(args[i]);
    } else {
      throw std::invalid_argument("comm_fault_probe: unexpected argument '" + args[i] + "'");
    }
  }
  return o;
}

void train(rnn_dist::comm::Communicator& comm, const Options& o) {
  comm.set_deadline(o.deadline);
  std::vector<float> gradient(40000);
  for (int step = 0; step < o.step + 5; ++step) {
    comm.set_context("epoch 1 step " + std::to_string(step));
    const bool me = comm.rank() == o.rank && step == o.step;
    if (me && (o.mode == "throw-on-rank" || o.mode == "uncaught-on-rank")) {
      throw std::runtime_error("injected failure at step " + std::to_string(step));
    }
    if (me && o.mode == "stop-rank") raise(SIGSTOP);
    if (me && o.mode == "stop-inside") comm.inject_fault_in_next_collective([] { raise(SIGSTOP); });
    if (me && o.mode == "kill-inside") comm.inject_fault_in_next_collective([] { raise(SIGKILL); });
    for (float& g : gradient) g = static_cast<float>(comm.rank());
    comm.allreduce_sum(std::span<float>(gradient));
  }
  comm.barrier();
}

}  // namespace

int main(int argc, char** argv) {
  auto comm = rnn_dist::comm::make_communicator(&argc, &argv);
  Options options;
  try {
    options = parse(argc, argv);
  } catch (const std::exception& e) {
    comm->abort(e.what(), 2);
  }
  if (!options.pid_dir.empty()) {
    std::ofstream(options.pid_dir + "/rank" + std::to_string(comm->rank()) + ".pid") << getpid() << "\n";
  }
  comm->barrier();
  if (options.mode == "uncaught-on-rank") {
    train(*comm, options);  // the exception escapes main: std::terminate -> the handler aborts
    return 0;
  }
  try {
    train(*comm, options);
  } catch (const std::exception& e) {
    comm->abort(e.what(), 3);
  }
  if (comm->rank() == 0) std::printf("comm_fault_probe: finished normally\n");
  return 0;
}
