#include "trainer/train/history.h"

#include <array>
#include <cstdio>
#include <utility>

#include "trainer/train/file_io.h"

namespace rnn_dist::train {

namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

HistoryWriter::HistoryWriter(const std::string& dir) : dir_(dir) {
  if (!dir_.empty()) write({});
}

void HistoryWriter::write(const std::vector<EpochMetrics>& rows) const {
  if (dir_.empty()) return;
  std::string csv = "epoch,loss,acc,val_loss,val_acc,seconds,examples_per_second\n";
  std::string jsonl;
  for (const auto& r : rows) {
    const std::string vl = r.has_val ? num(r.val_loss) : "", va = r.has_val ? num(r.val_acc) : "";
    csv += std::to_string(r.epoch) + "," + num(r.loss) + "," + num(r.acc) + "," + vl + "," + va +
           "," + num(r.seconds) + "," + num(r.examples_per_second) + "\n";
    jsonl += "{\"epoch\": " + std::to_string(r.epoch) + ", \"loss\": " + num(r.loss) +
             ", \"acc\": " + num(r.acc) + ", \"val_loss\": " + (r.has_val ? vl : "null") +
             ", \"val_acc\": " + (r.has_val ? va : "null") + ", \"seconds\": " + num(r.seconds) +
             ", \"examples_per_second\": " + num(r.examples_per_second) + "}\n";
  }
  const std::array<std::pair<std::string, std::string_view>, 2> files{
      {{dir_ + "/history.jsonl", jsonl}, {dir_ + "/history.csv", csv}}};
  write_files_atomically(files);
}

}  // namespace rnn_dist::train
