#include "trainer/model/embedding.h"

#include "trainer/model/init.h"

namespace rnn_dist::model {

void Embedding::declare(ParameterLayout& layout, const std::string& name) {
  offset_ = layout.add(name + "/embeddings", {num_words_, dim_});
}

void Embedding::init(std::span<float> params, std::mt19937_64& rng) const {
  uniform(params.subspan(offset_, static_cast<std::size_t>(num_words_) * dim_), -0.05f, 0.05f, rng);
}

void Embedding::forward(const float* params, std::span<const std::int32_t> tokens,
                        MatrixRef out) const {
  ConstMatrixMap table(params + offset_, dim_, num_words_);
  for (std::size_t j = 0; j < tokens.size(); ++j) out.col(static_cast<Eigen::Index>(j)) = table.col(tokens[j]);
}

void Embedding::backward(float* grads, std::span<const std::int32_t> tokens, ConstMatrixRef dout,
                         std::int32_t skip_token) const {
  MatrixMap dtable(grads + offset_, dim_, num_words_);
  for (std::size_t j = 0; j < tokens.size(); ++j) {
    if (tokens[j] == skip_token) continue;
    dtable.col(tokens[j]) += dout.col(static_cast<Eigen::Index>(j));
  }
}

}  // namespace rnn_dist::model
