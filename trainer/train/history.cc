#include "trainer/train/history.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace rnn_dist::train {

namespace {

void write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + ec.message());
}

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
  write_atomically(dir_ + "/history.csv", csv);
  write_atomically(dir_ + "/history.jsonl", jsonl);
}

}  // namespace rnn_dist::train
