// A forked child for tests that change process-wide settings they must not leave behind
// (resource limits, mount namespaces).
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

namespace rnn_dist::train {

// Runs `child` in a forked process and expects it to exit 0; `codes` explains the others.
inline void expect_child_exits_zero(const std::function<int()>& child, const char* codes) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) ::_exit(child());
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << codes;
}

}  // namespace rnn_dist::train
