// A Communicator for one process without MPI: rank 0 of 1, every collective is the identity.
// Training code runs on it without MPI: GradientStep's unit tests (tests/train/
// test_gradient_step.cc) and the training-step benchmark (tests/bench/bench_train.cc).
#pragma once

#include <string>
#include <vector>

#include "comm/communicator.h"
#include "comm/work_share.h"

namespace rnn_dist::comm {

class LocalCommunicator final : public Communicator {
 public:
  LocalCommunicator();

  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string host() const override { return host_; }
  std::vector<std::string> all_hosts() override { return {host_}; }
  std::vector<int> all_nodes() override { return {0}; }
  int local_size() const override { return 1; }
  // Shared by the threads of this process; a round lasts from one collective to the next.
  std::int64_t take_work(std::int64_t items) override { return take_from(work_, collectives_, items); }
  std::vector<int> all_work_groups() override { return {0}; }

  void broadcast(std::span<float>) override { run_fault(); }
  void broadcast(std::span<std::uint8_t>) override { run_fault(); }
  void allreduce_sum(std::span<float>) override { run_fault(); }
  void allreduce_sum(std::span<double>) override { run_fault(); }
  void allreduce_sum(std::span<std::int64_t>) override { run_fault(); }
  void allreduce_max(std::span<double>) override { run_fault(); }
  void allreduce_or(std::span<std::uint64_t>) override { run_fault(); }
  bool any(bool flag) override {
    run_fault();
    return flag;
  }
  void barrier() override { run_fault(); }

  // Prints "rnn_dist: rank 0 (host): <message>" to stderr and exits with `status`.
  [[noreturn]] void abort(const std::string& message, int status) override;

  void set_deadline(double) override {}
  void set_context(const std::string&) override {}
  // There is no transfer: runs the fault at the next collective call.
  void inject_fault_in_next_collective(std::function<void()> fault) override {
    fault_ = std::move(fault);
  }

 private:
  void run_fault() {
    ++collectives_;
    if (auto f = std::move(fault_)) {
      fault_ = nullptr;
      f();
    }
  }
  std::string host_;
  std::function<void()> fault_;
  std::uint64_t collectives_ = 0;  // collectives called: take_work's round
  std::uint64_t work_ = 0;         // take_work's word
};

}  // namespace rnn_dist::comm
