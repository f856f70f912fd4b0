#include "trainer/train/progress.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cmath>

#include "comm/communicator.h"

namespace rnn_dist::train {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The stream whose bar line is open, for the abort hook (which may run on a deadline's thread).
std::atomic<std::FILE*> g_open_bar{nullptr};

// Ends an open bar line before an error message is written to stderr. When stderr is another
// file than `out` (under mpirun: a pipe beside the rank's stdout, merged again by mpirun in no
// fixed order), stderr gets a line end too, so that the message starts a line wherever the two
// streams meet (at the cost of an empty line where they do not).
void end_bar_line(std::FILE* out) {
  std::fputc('\n', out);
  std::fflush(out);
  struct stat a {}, b {};
  const bool same = ::fstat(fileno(out), &a) == 0 && ::fstat(STDERR_FILENO, &b) == 0 &&
                    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
  if (!same) [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, "\n", 1);
}

void end_open_bar() {
  if (std::FILE* out = g_open_bar.exchange(nullptr)) end_bar_line(out);
}

void end_another_ranks_bar_line() {
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, "\n", 1);
}
}  // namespace

void start_abort_message_on_a_fresh_line() { comm::set_before_abort(&end_another_ranks_bar_line); }

std::string format_duration(double s) {
  char buf[32];
  if (s < 1) std::snprintf(buf, sizeof buf, "%.0fms", s * 1000);
  else if (s < 60) std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm %02ds", int(s / 60), int(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh %02dm", int(s / 3600), int(s / 60) % 60);
  return buf;
}

Progress::Progress(std::FILE* out, bool interactive, Verbosity verbosity, double interval)
    : out_(out), interactive_(interactive), verbosity_(verbosity), interval_(interval) {}

// An exception that ends training unwinds past this object before its message is printed.
Progress::~Progress() {
  if (!bar_open_) return;
  set_bar_open(false);
  end_bar_line(out_);
}

void Progress::set_bar_open(bool open) {
  bar_open_ = open;
  if (open) {
    g_open_bar.store(out_);
    comm::set_before_abort(&end_open_bar);
  } else {
    std::FILE* mine = out_;
    g_open_bar.compare_exchange_strong(mine, nullptr);
  }
}

void Progress::begin_epoch(int epoch, int epochs, std::size_t steps) {
  epoch_ = epoch;
  epochs_ = epochs;
  steps_ = steps;
  step_ = examples_ = 0;
  drawn_ = false;
  start_ = last_print_ = std::chrono::steady_clock::now();
  if (verbosity_ == Verbosity::kQuiet) return;
  std::fprintf(out_, "Epoch %d/%d\n", epoch + 1, epochs);
  std::fflush(out_);
}

void Progress::update(std::size_t step, std::size_t examples, double loss, double acc) {
  step_ = step;
  examples_ = examples;
  loss_ = loss;
  acc_ = acc;
  if (verbosity_ == Verbosity::kQuiet) return;
  const double since = seconds_since(last_print_);
  // On a terminal the bar appears at the first step, then follows at most every 0.1 s.
  if (interactive_ ? (!drawn_ || since >= 0.1) : since >= interval_) {
    drawn_ = true;
    draw(false);
    last_print_ = std::chrono::steady_clock::now();
  }
}

void Progress::draw(bool final) {
  const double elapsed = seconds_since(start_);
  const double rate = elapsed > 0 ? examples_ / elapsed : 0;
  const double eta = step_ > 0 ? elapsed * (double(steps_) - double(step_)) / double(step_) : 0;
  char stats[160];
  std::snprintf(stats, sizeof stats, "%s - %.0f examples/s - loss: %.4f - acc: %.4f",
                final ? format_duration(elapsed).c_str()
                      : (format_duration(elapsed) + " (ETA " + format_duration(eta) + ")").c_str(),
                rate, loss_, acc_);
  const int width = std::to_string(steps_).size();
  if (interactive_) {
    constexpr int kBar = 30;
    const int filled = steps_ ? int(kBar * step_ / steps_) : kBar;
    std::string bar(std::size_t(kBar), '.');
    for (int i = 0; i < filled; ++i) bar[std::size_t(i)] = '=';
    if (filled < kBar && filled > 0) bar[std::size_t(filled)] = '>';
    std::fprintf(out_, "\r%*zu/%zu [%s] %s\033[K", width, step_, steps_, bar.c_str(), stats);
    if (final) std::fputc('\n', out_);
    set_bar_open(!final);
  } else {
    std::fprintf(out_, "%*zu/%zu %s\n", width, step_, steps_, stats);
  }
  std::fflush(out_);
}

void Progress::end_epoch(double loss, double acc, double val_loss, double val_acc, bool has_val,
                         double seconds, double examples_per_second) {
  if (verbosity_ == Verbosity::kQuiet) return;
  if (interactive_) {
    loss_ = loss;
    acc_ = acc;
    draw(true);
  }
  std::fprintf(out_, "%zu/%zu - %s - %.0f examples/s - loss: %.4f - acc: %.4f", step_, steps_,
               format_duration(seconds).c_str(), examples_per_second, loss, acc);
  if (has_val) std::fprintf(out_, " - val_loss: %.4f - val_acc: %.4f", val_loss, val_acc);
  std::fputc('\n', out_);
  std::fflush(out_);
}

void Progress::message(const std::string& line, bool even_when_quiet) {
  if (verbosity_ == Verbosity::kQuiet && !even_when_quiet) return;
  if (bar_open_) {
    std::fputc('\n', out_);
    set_bar_open(false);
  }
  std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
}

}  // namespace rnn_dist::train
