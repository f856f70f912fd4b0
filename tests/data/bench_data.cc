// bench_data [ACLIMDB_DIR] [OUT]: times preparing the IMDB data (one core), opening the prepared
// file (mapping + full validation), reusing a valid cache, and encoding every training example into padded batches.
// Defaults: ./data/aclImdb and /tmp/bench_data.rnn_dist. Not a ctest test: it prints figures.
#include <chrono>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "trainer/data/batch_order.h"
#include "trainer/data/data_error.h"
#include "trainer/data/encoding.h"
#include "trainer/data/prepared_dataset.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace rnn_dist::data;
  const std::string source = argc > 1 ? argv[1] : "data/aclImdb";
  const std::string out = argc > 2 ? argv[2] : "/tmp/bench_data.rnn_dist";
  try {
    auto start = std::chrono::steady_clock::now();
    prepare(source, out);
    std::printf("prepare %s -> %s: %.3f s\n", source.c_str(), out.c_str(), seconds_since(start));

    for (int run = 0; run < 3; ++run) {
      start = std::chrono::steady_clock::now();
      PreparedDataset ds(out);
      std::printf("open + validate (run %d): %.3f s\n", run + 1, seconds_since(start));
    }

    // The ranks' path: ensure_prepared on a folder whose cache is already valid (stat of every
    // source file for the fingerprint + full validation of the cache).
    const std::string cache = ensure_prepared(source);
    start = std::chrono::steady_clock::now();
    ensure_prepared(source);
    std::printf("ensure_prepared with a valid cache %s: %.3f s\n", cache.c_str(),
                seconds_since(start));

    PreparedDataset ds(out);
    const SplitView train = ds.split("train");
    std::printf("train %zu examples, %llu ids; test %zu examples; vocabulary %zu words\n",
                train.size(), static_cast<unsigned long long>(train.num_tokens()),
                ds.split("test").size(), ds.vocabulary().size());
    std::vector<uint32_t> ids(train.size());
    std::iota(ids.begin(), ids.end(), 0u);
    BatchOrder order(ids, 128, 1);
    const SequenceOptions options;
    std::vector<int32_t> tokens(static_cast<size_t>(options.maxlen) * 128);
    std::vector<float> labels(128);
    start = std::chrono::steady_clock::now();
    for (size_t step = 0; step < order.num_batches(); ++step) {
      const auto batch = order.batch(0, step);
      tokens.resize(static_cast<size_t>(options.maxlen) * batch.size());
      labels.resize(batch.size());
      fill_batch(train, batch, options, options.maxlen, tokens, labels);
    }
    std::printf("one epoch of padded batches (128 x 500, time-major): %.3f s\n",
                seconds_since(start));
  } catch (const DataError& e) {
    std::fprintf(stderr, "bench_data: %s\n", e.what());
    return 1;
  }
  return 0;
}
