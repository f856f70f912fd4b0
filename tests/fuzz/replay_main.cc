// fuzz_replay_<target> [--mutations N] [--seed S] PATH...: runs a fuzz target without libFuzzer
// (any compiler): every file in PATH (files or folders), then N random mutations of them (bit
// flips, byte overwrites, truncations, insertions, duplicated chunks, splices). The target's
// contract is checked by the target itself: a crash, an abort or an unexpected exception ends
// this program with a non-zero status, naming the input (and for a mutation, saving it).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_common.h"

namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string mutate(const std::vector<std::string>& corpus, std::mt19937_64& rng) {
  auto pick = [&](std::size_t n) { return n == 0 ? std::size_t{0} : std::size_t(rng() % n); };
  std::string b = corpus[pick(corpus.size())];
  const int edits = 1 + int(pick(4));
  for (int e = 0; e < edits; ++e) {
    switch (pick(6)) {
      case 0:  // flip one bit
        if (!b.empty()) b[pick(b.size())] ^= char(1 << pick(8));
        break;
      case 1:  // overwrite a byte with an interesting value
        if (!b.empty()) {
          const char values[] = {0, 1, 0x7f, char(0x80), char(0xff), 0x08, 0x10};
          b[pick(b.size())] = values[pick(sizeof values)];
        }
        break;
      case 2:  // truncate
        b.resize(pick(b.size() + 1));
        break;
      case 3: {  // insert random bytes
        std::string add(1 + pick(16), '\0');
        for (char& c : add) c = char(rng());
        b.insert(pick(b.size() + 1), add);
        break;
      }
      case 4: {  // duplicate a chunk
        const std::size_t at = pick(b.size() + 1), n = pick(b.size() - at + 1);
        b.insert(pick(b.size() + 1), b.substr(at, n));
        break;
      }
      default: {  // splice with another input
        const std::string& other = corpus[pick(corpus.size())];
        b = b.substr(0, pick(b.size() + 1)) + other.substr(pick(other.size() + 1));
      }
    }
  }
  return b;
}

void run(const std::string& input, const std::string& what) {
  try {
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz replay: %s: unexpected exception: %s\n", what.c_str(), e.what());
    std::exit(1);
  } catch (...) {
    std::fprintf(stderr, "fuzz replay: %s: unexpected non-standard exception\n", what.c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  long mutations = 0;
  unsigned long long seed = 1;
  std::vector<fs::path> paths;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--mutations") && i + 1 < argc) mutations = std::atol(argv[++i]);
    else if (!std::strcmp(argv[i], "--seed") && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    else paths.emplace_back(argv[i]);
  }
  std::vector<std::string> corpus;
  for (const auto& p : paths) {
    std::vector<fs::path> files;
    if (fs::is_directory(p)) {
      for (const auto& e : fs::directory_iterator(p))
        if (e.is_regular_file()) files.push_back(e.path());
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(p);
    }
    for (const auto& f : files) {
      corpus.push_back(read_file(f));
      run(corpus.back(), f.string());
    }
  }
  if (corpus.empty()) {
    std::fprintf(stderr, "fuzz replay: no inputs\n");
    return 2;
  }
  std::mt19937_64 rng(seed);
  for (long i = 0; i < mutations; ++i) {
    const std::string input = mutate(corpus, rng);
    // Saved first, so that a crash leaves the input behind.
    const std::string saved = "fuzz-replay-crash-" + std::to_string(seed) + ".bin";
    rnn_dist::fuzz::write_file(saved, input);
    run(input, "mutation " + std::to_string(i) + " (saved as " + saved + ")");
  }
  std::remove(("fuzz-replay-crash-" + std::to_string(seed) + ".bin").c_str());
  std::printf("fuzz replay: %zu inputs and %ld mutations (seed %llu), no crash\n", corpus.size(),
              mutations, seed);
  return 0;
}
