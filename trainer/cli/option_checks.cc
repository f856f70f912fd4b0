#include "trainer/cli/option_checks.h"

#include <unistd.h>

#include <boost/any.hpp>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "trainer/cli/options.h"
#include "trainer/data/tokenizer.h"

namespace rnn_dist::cli {

namespace {

// The allowed values of one numeric option: [lo, hi], or open at an end ("(0, 10]").
struct Range {
  const char* name;
  double lo, hi;
  bool lo_open, hi_open;
  const char* why;  // appended in parentheses when not empty
};

// Every numeric option of every subcommand. An upper bound is there so that a mistyped value
// (an extra digit, a value in the wrong unit) is refused before any work rather than ending in
// an allocation failure, an overflow or a run that never ends.
constexpr Range kRanges[] = {
    {"epochs", 1, 1e6, false, false, ""},
    {"batch-size", 1, 1 << 20, false, false, "the GLOBAL batch"},
    {"micro-batch", 1, 1 << 20, false, false, "and at most --batch-size"},
    {"eval-batch-size", 1, 65536, false, false, ""},
    {"maxlen", 1, 100000, false, false,
     "tokens kept per review; the longest IMDB review has "
     "about 2,500 words"},
    {"embed", 1, 65536, false, false, ""},
    {"num-words", 4, 1000000, false, false,
     "ids 0-3 are reserved; ids beyond the data's vocabulary (81,401 words for IMDB) only cost "
     "memory"},
    {"lr", 0, 10, true, false, ""},
    {"rho", 0, 1, false, true, ""},
    {"momentum", 0, 1, false, true, ""},
    {"epsilon", 0, 1, true, false, ""},
    {"clip-norm", 0, 1e6, false, false, "0: off"},
    {"max-steps", 0, 1e12, false, false, "0: no limit"},
    {"threads", 0, 1024, false, false, "0: the cores available to each rank"},
    {"collective-timeout", 0, 604800, false, false, "seconds, 0: no deadline; at most a week"},
    {"keep", 1, 1000, false, false, ""},
    {"digits", 0, 9, false, false, "a float holds about 7 significant digits"},
    {"checkpoint-every", 0, 1e12, false, false, "0: at epoch ends only"},
    {"tensorboard-every", 1, 1e12, false, false, "global steps"},
    {"early-stopping-patience", 0, 1e6, false, false, "epochs, 0: off"},
    {"reduce-lr-patience", 0, 1e6, false, false, "epochs, 0: off"},
    {"reduce-lr-factor", 0, 1, true, true, ""},
    {"min-lr", 0, 10, false, false, "and at most --lr"},
    {"min-delta", 0, 1e6, false, false, ""},
    {"warmup-steps", 0, 1e12, false, false, "0: off"},
    {"validation-split", 0, 1, false, true,
     "and leaving at least --batch-size reviews to train on"},
};

// A bound as typed: integers in full ("1000000", not "1e+06").
std::string bound(double v) {
  return v == std::floor(v) && std::fabs(v) < 1e15 ? std::to_string(static_cast<long long>(v))
                                                   : format_number(v);
}

std::string range_text(const Range& r) {
  std::string text = std::string(r.lo_open ? "(" : "[") + bound(r.lo) + ", " + bound(r.hi) +
                     (r.hi_open ? ")" : "]");
  if (*r.why) text += std::string(" (") + r.why + ")";
  return text;
}

const Range* find_range(std::string_view name) {
  for (const auto& r : kRanges)
    if (name == r.name) return &r;
  return nullptr;
}

// The value of a numeric option as a double and as typed; false if `any` holds no number.
bool numeric_value(const boost::any& any, double& value, std::string& shown) {
  if (auto* i = boost::any_cast<int>(&any))
    value = *i, shown = std::to_string(*i);
  else if (auto* l = boost::any_cast<std::int64_t>(&any))
    value = double(*l), shown = std::to_string(*l);
  else if (auto* u = boost::any_cast<std::uint64_t>(&any))
    value = double(*u), shown = std::to_string(*u);
  else if (auto* d = boost::any_cast<double>(&any))
    value = *d, shown = format_number(*d);
  else
    return false;
  return true;
}

}  // namespace

std::string format_number(double v) {
  char buf[40];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string out_of_memory_message(const std::string& what) {
  return "out of memory during " + what +
         " (std::bad_alloc): the model (--num-words, --embed, "
         "--layers) or the batches (--micro-batch, --eval-batch-size, --maxlen) times --threads "
         "need more memory than this host has";
}

std::string allowed_range(std::string_view name) {
  const Range* r = find_range(name);
  return r ? range_text(*r) : "";
}

std::string ranges_help(const boost::program_options::options_description& options) {
  std::string out = "Allowed values (checked before any work starts):\n";
  for (const auto& r : kRanges)
    if (options.find_nothrow(r.name, false))
      out += "  --" + std::string(r.name) + " " + range_text(r) + "\n";
  if (options.find_nothrow("seed", false)) out += "  --seed [0, 18446744073709551615]\n";
  if (options.find_nothrow("embed", false))
    out += "  the model (--num-words x --embed, plus the layers): at most " +
           std::to_string(kMaxParameters) + " parameters\n";
  return out;
}

void check_ranges(const boost::program_options::variables_map& vm) {
  for (const auto& r : kRanges) {
    if (!vm.count(r.name)) continue;
    double v = 0;
    std::string shown;
    if (!numeric_value(vm[r.name].value(), v, shown)) continue;
    const bool ok = (r.lo_open ? v > r.lo : v >= r.lo) && (r.hi_open ? v < r.hi : v <= r.hi);
    if (!ok)
      throw UsageError("--" + std::string(r.name) + " " + shown + " must be in " + range_text(r));
  }
}

std::uint64_t parameter_count(const model::ModelSpec& spec) {
  std::uint64_t count = std::uint64_t(spec.num_words) * std::uint64_t(spec.embed_dim);
  std::uint64_t in = std::uint64_t(spec.embed_dim);
  for (const auto& layer : spec.layers) {
    const std::uint64_t gates = layer.type == "lstm" ? 4 : layer.type == "gru" ? 3 : 1;
    const std::uint64_t units = std::uint64_t(layer.units);
    count += gates * units * (in + units + 2);
    in = units;
  }
  return count + in + 1;
}

void check_model_size(const model::ModelSpec& spec) {
  const std::uint64_t n = parameter_count(spec);
  if (n <= kMaxParameters) return;
  throw UsageError("--num-words " + std::to_string(spec.num_words) + ", --embed " +
                   std::to_string(spec.embed_dim) + " and --layers " +
                   model::format_layers(spec.layers) + " make " + std::to_string(n) +
                   " parameters: at most " + std::to_string(kMaxParameters) +
                   " (every thread holds parameters, gradients and optimizer state, and a "
                   "checkpoint must stay below protobuf's 2 GiB)");
}

std::string read_config_text(const std::string& path) {
  check_input_file("--config", path);
  std::ifstream in(path, std::ios::binary);
  std::string text;
  try {
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::exception& e) {
    throw UsageError("--config " + path + ": cannot read the file: " + e.what());
  }
  if (in.bad()) throw UsageError("--config " + path + ": cannot read the file");
  std::size_t line = 1, begin = 0;
  while (begin <= text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    const std::string_view l(text.data() + begin, end - begin);
    const std::string where = "--config " + path + " line " + std::to_string(line) + ": ";
    if (l.size() > kMaxConfigLine)
      throw UsageError(where + std::to_string(l.size()) + " bytes long (at most " +
                       std::to_string(kMaxConfigLine) + ")");
    if (const auto nul = l.find('\0'); nul != std::string_view::npos)
      throw UsageError(where + "NUL byte at column " + std::to_string(nul + 1) +
                       " (not a text file?)");
    if (const auto bad = data::find_invalid_utf8(l); bad != l.size())
      throw UsageError(where + "invalid UTF-8 at column " + std::to_string(bad + 1));
    begin = end + 1;
    ++line;
  }
  return text;
}

int config_line_of(const std::string& text, const std::string& key) {
  int line = 0;
  std::size_t begin = 0;
  while (begin < text.size()) {
    ++line;
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    std::string_view l(text.data() + begin, end - begin);
    const auto first = l.find_first_not_of(" \t");
    const auto eq = l.find('=');
    if (first != std::string_view::npos && eq != std::string_view::npos && first < eq) {
      std::string_view k = l.substr(first, eq - first);
      while (!k.empty() && (k.back() == ' ' || k.back() == '\t')) k.remove_suffix(1);
      if (k == key) return line;
    }
    begin = end + 1;
  }
  return 0;
}

void check_input_file(const std::string& flag, const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) throw UsageError(flag + " " + path + ": no such file");
  if (std::filesystem::is_directory(status))
    throw UsageError(flag + " " + path + ": is a folder, not a file");
  if (!std::filesystem::is_regular_file(status))
    throw UsageError(flag + " " + path + ": not a regular file");
  if (::access(path.c_str(), R_OK) != 0)
    throw UsageError(flag + " " + path + ": cannot read the file: " + std::strerror(errno));
}

std::string printable(std::string_view text, std::size_t max_bytes) {
  std::string out;
  const auto escape = [&](unsigned char c) {
    char buf[5];
    std::snprintf(buf, sizeof buf, "\\x%02x", c);
    out += buf;
  };
  while (!text.empty()) {
    const std::size_t bad = data::find_invalid_utf8(text);
    for (std::size_t i = 0; i < bad; ++i) {
      const auto c = static_cast<unsigned char>(text[i]);
      if (c < 0x20 || c == 0x7f)
        escape(c);
      else
        out += text[i];
    }
    if (bad == text.size()) break;
    escape(static_cast<unsigned char>(text[bad]));
    text.remove_prefix(bad + 1);
  }
  if (out.size() <= max_bytes) return out;
  // Keep the start and the end (which often says what is allowed), cut at UTF-8 boundaries.
  std::size_t head = max_bytes * 3 / 4, tail = out.size() - max_bytes / 4;
  while (head > 0 && (static_cast<unsigned char>(out[head]) & 0xC0) == 0x80) --head;
  while (tail < out.size() && (static_cast<unsigned char>(out[tail]) & 0xC0) == 0x80) ++tail;
  return out.substr(0, head) + "[... " + std::to_string(tail - head) + " bytes ...]" +
         out.substr(tail);
}

}  // namespace rnn_dist::cli
