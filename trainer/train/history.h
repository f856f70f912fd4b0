// The metric history of a run: one row per epoch, written by rank 0 as training goes (a crash
// keeps the epochs done so far) to history.csv and history.jsonl in the run's output folder.
#pragma once

#include <string>
#include <vector>

namespace rnn_dist::train {

struct EpochMetrics {
  int epoch = 0;  // 1-based, as Keras prints it
  double loss = 0, acc = 0;
  double val_loss = 0, val_acc = 0;
  bool has_val = false;
  double seconds = 0;
  double examples_per_second = 0;
};

class HistoryWriter {
 public:
  // Creates (truncates) <dir>/history.csv and <dir>/history.jsonl and writes the CSV header.
  // An empty dir disables writing. Throws std::runtime_error naming the file it cannot write.
  explicit HistoryWriter(const std::string& dir);
  // Rewrites both files with `rows` (called after every epoch; the files are tiny, and a full
  // rewrite through a temporary file and rename keeps them whole if the process dies).
  void write(const std::vector<EpochMetrics>& rows) const;

 private:
  std::string dir_;
};

}  // namespace rnn_dist::train
