// A Communicator for one process without MPI: rank 0 of 1, every collective is the identity.
// For unit tests of training code and for tools that never run under mpirun.
#pragma once

#include <string>
#include <vector>

#include "comm/communicator.h"

namespace rnn_dist::comm {

class LocalCommunicator final : public Communicator {
 public:
  LocalCommunicator();

  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string host() const override { return host_; }
  std::vector<std::string> all_hosts() override { return {host_}; }

  void broadcast(std::span<float>) override {}
  void broadcast(std::span<std::uint8_t>) override {}
  void allreduce_sum(std::span<float>) override {}
  void allreduce_sum(std::span<double>) override {}
  void allreduce_max(std::span<double>) override {}
  void allreduce_or(std::span<std::uint64_t>) override {}
  bool any(bool flag) override { return flag; }
  void barrier() override {}

  // Prints "rnn_dist: rank 0 (host): <message>" to stderr and exits with `status`.
  [[noreturn]] void abort(const std::string& message, int status) override;

  void set_deadline(double) override {}
  void set_context(const std::string&) override {}

 private:
  std::string host_;
};

}  // namespace rnn_dist::comm
