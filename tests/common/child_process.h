// Helpers for tests that change process-wide state they must not leave behind (resource limits,
// mount namespaces): the test runs that part in a forked child and checks the child's exit
// status. Also how such a child makes a folder read-only when it runs as root (CI does), where
// permission bits stop nothing.
#pragma once

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace rnn_dist::test_process {

// Runs `child` in a forked process and expects it to exit 0; `codes` explains the other
// statuses in the failure message.
inline void expect_child_exits_zero(const std::function<int()>& child, const char* codes) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) ::_exit(child());
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << codes;
}

// For such a child: runs `action` and returns 0 if it throws an `Error` whose message holds every
// `wanted` text, 1 for another message (printed), 2 for another exception, 3 if it returned.
template <class Error>
int throws_with(const std::function<void()>& action, const std::vector<std::string>& wanted) {
  try {
    action();
  } catch (const Error& e) {
    const std::string m = e.what();
    for (const auto& w : wanted)
      if (m.find(w) == std::string::npos) {
        std::fprintf(stderr, "unexpected message (no '%s'): %s\n", w.c_str(), m.c_str());
        return 1;
      }
    return 0;
  } catch (...) {
    return 2;
  }
  return 3;
}

// For such a child running as root: makes `dir` read-only for this process alone by entering a
// mount namespace of its own and bind-mounting the folder read-only onto itself (the mount ends
// with the child). Returns 0, or 10-13: the step that failed.
inline int make_read_only_in_own_namespace(const std::string& dir) {
  if (::unshare(CLONE_NEWNS) != 0) return 10;
  // Private, so that the bind mount below does not propagate to the parent's namespace.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 11;
  if (::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) != 0) return 12;
  if (::mount(nullptr, dir.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0)
    return 13;
  return 0;
}

// Expects `action` to throw an `Error` naming every `wanted` text when `dir` is read-only: by
// permission bits for a user, by a read-only bind mount in a child's own mount namespace for
// root (who ignores permission bits).
template <class Error>
void expect_fails_in_read_only_folder(const std::string& dir, const std::function<void()>& action,
                                      const std::vector<std::string>& wanted) {
  if (::geteuid() != 0) {
    std::filesystem::permissions(dir, std::filesystem::perms(0500));
    EXPECT_EQ(throws_with<Error>(action, wanted), 0)
        << "1: wrong message, 2: wrong exception type, 3: no error";
    std::filesystem::permissions(dir, std::filesystem::perms(0700));
    return;
  }
  expect_child_exits_zero(
      [&] {
        if (const int status = make_read_only_in_own_namespace(dir)) return status;
        return throws_with<Error>(action, wanted);
      },
      "1: wrong message, 2: wrong exception type, 3: no error, 10-13: the read-only mount "
      "failed");
}

}  // namespace rnn_dist::test_process
