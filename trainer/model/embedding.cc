#include "trainer/model/embedding.h"

#include "trainer/model/init.h"

namespace rnn_dist::model {

void Embedding::declare(ParameterLayout& layout, const std::string& name) {
  offset_ = layout.add(name + "/embeddings", {num_words_, dim_});
}

void Embedding::init(std::span<float> params, std::mt19937_64& rng) const {
  uniform(params.subspan(offset_, static_cast<std::size_t>(num_words_) * dim_), -0.05f, 0.05f, rng);
}

namespace {

// How many tokens ahead to prefetch a table row: the table (1.3 MB at the defaults) lives in L2
// or L3, and a batch's tokens hit it in random order, so each row is a cache miss that prefetching
// hides behind the copies of the rows before it.
constexpr std::size_t kPrefetchAhead = 8;

// Asks for the cache lines of `floats` floats at p (a row of 32 floats is two lines).
inline void prefetch_row(const float* p, Eigen::Index floats, bool for_write) {
  constexpr Eigen::Index kLine = 64 / sizeof(float);
  for (Eigen::Index i = 0; i < floats; i += kLine) {
    if (for_write)
      __builtin_prefetch(p + i, 1);
    else
      __builtin_prefetch(p + i, 0);
  }
}

}  // namespace

void Embedding::forward(const float* params, std::span<const std::int32_t> tokens,
                        MatrixRef out) const {
  const float* table = params + offset_;
  const Eigen::Index d = dim_;
  for (std::size_t j = 0; j < tokens.size(); ++j) {
    if (j + kPrefetchAhead < tokens.size())
      prefetch_row(table + tokens[j + kPrefetchAhead] * d, d, false);
    const float* src = table + tokens[j] * d;
    float* dst = out.data() + Eigen::Index(j) * out.outerStride();
    for (Eigen::Index r = 0; r < d; ++r) dst[r] = src[r];
  }
}

void Embedding::backward(float* grads, std::span<const std::int32_t> tokens, ConstMatrixRef dout,
                         std::int32_t skip_token) const {
  float* dtable = grads + offset_;
  const Eigen::Index d = dim_;
  for (std::size_t j = 0; j < tokens.size(); ++j) {
    if (j + kPrefetchAhead < tokens.size())
      prefetch_row(dtable + tokens[j + kPrefetchAhead] * d, d, true);
    if (tokens[j] == skip_token) continue;
    float* __restrict dst = dtable + tokens[j] * d;
    const float* __restrict src = dout.data() + Eigen::Index(j) * dout.outerStride();
    for (Eigen::Index r = 0; r < d; ++r) dst[r] += src[r];
  }
}

}  // namespace rnn_dist::model
