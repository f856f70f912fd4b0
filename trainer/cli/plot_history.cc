#include "trainer/cli/plot_history.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

namespace rnn_dist::cli {

namespace {

// launch/plot_history.py: $RNN_DIST_PLOT_SCRIPT, else next to the build folder, else where
// `cmake --install` puts it, else in the source tree this binary was built from. "" if none.
std::string find_plot_script() {
  if (const char* env = std::getenv("RNN_DIST_PLOT_SCRIPT"); env && *env) return env;
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  for (const auto& candidate : {exe / "../launch/plot_history.py",
                                exe / "../share/rnn_dist/plot_history.py",
                                std::filesystem::path(RNN_DIST_SOURCE_DIR) / "launch/plot_history.py"})
    if (std::filesystem::exists(candidate, ec)) return std::filesystem::canonical(candidate, ec).string();
  return "";
}

std::string python_for_plots() {
  return std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

// Runs `args` (a program and its arguments) and waits; returns its exit status (-1 if it could not run).
int run_program(const std::vector<std::string>& args) {
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

bool plotting_wanted() {
  std::string why;
  if (find_plot_script().empty())
    why = "launch/plot_history.py not found (set RNN_DIST_PLOT_SCRIPT)";
  else if (run_program({python_for_plots(), "-c", "import matplotlib"}) != 0)
    why = python_for_plots() + " cannot import matplotlib (apt-get install python3-matplotlib)";
  if (why.empty()) return true;
  std::fprintf(stderr, "rnn_dist: warning: --plot: %s; training without plots\n", why.c_str());
  return false;
}

void plot_history(const std::string& dir, std::size_t rows, train::Progress& progress) {
  if (rows == 0) {
    progress.message("--plot: no finished epoch to plot", true);
    return;
  }
  const std::vector<std::string> command{python_for_plots(), find_plot_script(),
                                         dir + "/history.csv", dir};
  if (run_program(command) != 0)
    progress.message("warning: --plot: " + command[1] + " failed", true);
}

}  // namespace rnn_dist::cli
