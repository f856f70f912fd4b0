// Keras-style progress for rank 0: "Epoch 3/10", a bar redrawn in place on a terminal, or a plain
// line every few seconds on anything else (batch logs never get carriage returns), and one line at
// the end of each epoch.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace rnn_dist::train {

enum class Verbosity { kQuiet = 0, kNormal = 1, kVerbose = 2 };

class Progress {
 public:
  // interactive: redraw a bar with '\r' (a terminal); otherwise print a line every
  // `line_interval_seconds`. out: where to print (stdout).
  // While a bar is drawn its line is open (no '\n' yet): a message of this class ends it first,
  // and so do an abort of the job (comm::set_before_abort) and the destructor (an exception
  // unwinding), so that no message is glued to the bar.
  Progress(std::FILE* out, bool interactive, Verbosity verbosity, double line_interval_seconds = 5);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void begin_epoch(int epoch, int epochs, std::size_t steps);
  // After each step: steps done in this epoch, examples done, running loss and accuracy.
  void update(std::size_t step, std::size_t examples, double loss, double acc);
  // Ends the epoch's bar and prints the summary line.
  void end_epoch(double loss, double acc, double val_loss, double val_acc, bool has_val,
                 double seconds, double examples_per_second);
  // A free line (rank 0 only), e.g. the timing split or a warning; ends a bar in progress first.
  void message(const std::string& line, bool even_when_quiet = false);

 private:
  void draw(bool final);
  void set_bar_open(bool open);
  std::FILE* out_;
  bool interactive_;
  Verbosity verbosity_;
  double interval_;
  int epoch_ = 0, epochs_ = 0;
  std::size_t steps_ = 0, step_ = 0, examples_ = 0;
  double loss_ = 0, acc_ = 0;
  bool bar_open_ = false;
  bool drawn_ = false;  // the bar was drawn in this epoch
  std::chrono::steady_clock::time_point start_, last_print_;
};

// For a rank that draws no bar while another one (rank 0) redraws a bar on the same terminal
// (mpirun merges the ranks' output): makes this process's abort message (comm::set_before_abort)
// start with a line end, so that it does not land on that open bar line, which the bar's rank
// cannot end (the message is not its own). Costs an empty line where no bar line was open.
void start_abort_message_on_a_fresh_line();

// "1m 23s" / "12s" / "450ms" style duration.
std::string format_duration(double seconds);

}  // namespace rnn_dist::train
