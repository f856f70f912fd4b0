// compare_checkpoints A B [--tolerance X] [--optimizer]
// compare_checkpoints --dump FILE [--optimizer]
//
// Compare mode: compares the parameters (and with --optimizer the optimizer state) of two rnn_dist
// checkpoints tensor by tensor and prints, for each, the largest absolute difference and where it
// is. Exit status 0 when every difference is <= X (default 0: bit-identical), 1 when one is
// larger, 2 when a file cannot be read or the models differ in shape. Used by the multi-rank and
// resume tests.
//
// Dump mode: writes to stdout the raw bytes of every parameter tensor (float32 as stored,
// little-endian on the machines we run on, in file order) and, with --optimizer, then those of
// every optimizer slot tensor; nothing else (no names, shapes or training state). Tests hash it
// (`| sha256sum`): the whole file cannot be compared across rank counts, since its training state
// records the world size. Exit status 0, or 2 with a one-line error on bad usage or an unreadable
// file.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "trainer/train/checkpoint_file.h"

namespace {

constexpr const char* kUsage =
    "usage: compare_checkpoints A B [--tolerance X] [--optimizer] | "
    "compare_checkpoints --dump FILE [--optimizer]\n";

struct Worst {
  double diff = 0;
  int index = -1;
};

Worst compare(const rnn_dist::pb::Tensor& a, const rnn_dist::pb::Tensor& b) {
  Worst w;
  for (int i = 0; i < a.data_size(); ++i) {
    const double d = std::abs(double(a.data(i)) - double(b.data(i)));
    if (d > w.diff || std::isnan(d)) w = {std::isnan(d) ? INFINITY : d, i};
  }
  return w;
}

// Writes the tensor's float32 values, as stored, to stdout. Returns false on a write error.
bool dump_tensor(const rnn_dist::pb::Tensor& t) {
  const auto n = static_cast<std::size_t>(t.data_size());
  return n == 0 || std::fwrite(t.data().data(), sizeof(float), n, stdout) == n;
}

// --dump FILE [--optimizer]: argv[1] is "--dump".
int dump(int argc, char** argv) {
  const char* path = nullptr;
  bool optimizer = false;
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--optimizer")) optimizer = true;
    else if (!path && argv[i][0] != '-') path = argv[i];
    else {
      std::fprintf(stderr, "compare_checkpoints: unexpected argument '%s'; %s", argv[i], kUsage);
      return 2;
    }
  }
  if (!path) {
    std::fprintf(stderr, "compare_checkpoints: --dump needs a checkpoint file; %s", kUsage);
    return 2;
  }
  rnn_dist::pb::Checkpoint c;
  try {
    c = rnn_dist::train::read_checkpoint_file(path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compare_checkpoints: %s\n", e.what());
    return 2;
  }
  bool ok = true;
  for (const auto& t : c.parameters()) ok = ok && dump_tensor(t);
  if (optimizer)
    for (const auto& t : c.optimizer().slots()) ok = ok && dump_tensor(t);
  if (std::fflush(stdout) != 0 || !ok) {
    std::fprintf(stderr, "compare_checkpoints: cannot write the dump of %s to stdout\n", path);
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && !std::strcmp(argv[1], "--dump")) return dump(argc, argv);
  if (argc < 3) {
    std::fprintf(stderr, "%s", kUsage);
    return 2;
  }
  double tolerance = 0;
  bool optimizer = false;
  for (int i = 3; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--tolerance") && i + 1 < argc) tolerance = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--optimizer")) optimizer = true;
  }
  rnn_dist::pb::Checkpoint a, b;
  try {
    a = rnn_dist::train::read_checkpoint_file(argv[1]);
    b = rnn_dist::train::read_checkpoint_file(argv[2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compare_checkpoints: %s\n", e.what());
    return 2;
  }
  auto tensors = [&](const rnn_dist::pb::Checkpoint& c, int i) -> const rnn_dist::pb::Tensor& {
    return i < c.parameters_size() ? c.parameters(i) : c.optimizer().slots(i - c.parameters_size());
  };
  const int na = a.parameters_size() + (optimizer ? a.optimizer().slots_size() : 0);
  const int nb = b.parameters_size() + (optimizer ? b.optimizer().slots_size() : 0);
  if (na != nb) {
    std::fprintf(stderr, "compare_checkpoints: %d tensors vs %d\n", na, nb);
    return 2;
  }
  std::printf("A: global step %llu, %d rank(s); B: global step %llu, %d rank(s)\n",
              (unsigned long long)a.training().global_step(), a.training().world_size(),
              (unsigned long long)b.training().global_step(), b.training().world_size());
  bool ok = a.training().global_step() == b.training().global_step();
  double worst = 0;
  for (int i = 0; i < na; ++i) {
    const auto& ta = tensors(a, i);
    const auto& tb = tensors(b, i);
    if (ta.name() != tb.name() || ta.data_size() != tb.data_size()) {
      std::fprintf(stderr, "compare_checkpoints: tensor %d is %s vs %s\n", i, ta.name().c_str(),
                   tb.name().c_str());
      return 2;
    }
    const auto w = compare(ta, tb);
    worst = std::max(worst, w.diff);
    std::printf("  %-28s %9d values  max |a-b| = %.3g%s\n", ta.name().c_str(), ta.data_size(),
                w.diff, w.index >= 0 ? (" at " + std::to_string(w.index)).c_str() : "");
    if (w.diff > tolerance) ok = false;
  }
  std::printf("%s: largest difference %.3g, tolerance %.3g\n", ok ? "MATCH" : "DIFFER", worst,
              tolerance);
  return ok ? 0 : 1;
}
