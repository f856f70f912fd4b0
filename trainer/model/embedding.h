// Embedding(num_words, dim): token id -> row of a (num_words, dim) table (Keras shape).
//
// The table, row-major (num_words, dim) as Keras stores it, is the column-major (dim, num_words)
// matrix E, so the vector of token k is column k of E.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>

#include "trainer/model/parameters.h"
#include "trainer/model/tensor.h"

namespace rnn_dist::model {

class Embedding {
 public:
  Embedding(int num_words, int dim) : num_words_(num_words), dim_(dim) {}

  // Registers `<name>/embeddings` with shape {num_words, dim}.
  void declare(ParameterLayout& layout, const std::string& name);
  // Keras default: uniform(-0.05, 0.05).
  void init(std::span<float> params, std::mt19937_64& rng) const;

  // tokens: n ids in [0, num_words). out: (dim, n), out.col(j) = E.col(tokens[j]).
  // REQUIRES: every id < num_words (the encoder caps ids at num_words).
  void forward(const float* params, std::span<const std::int32_t> tokens, MatrixRef out) const;
  // dout: (dim, n). Adds dout.col(j) into the gradient of E.col(tokens[j]). Tokens equal to
  // `skip_token` (the padding id 0 when the model masks padding; -1 for none) are skipped: their
  // gradient is zero because masked steps pass no gradient to their inputs.
  void backward(float* grads, std::span<const std::int32_t> tokens, ConstMatrixRef dout,
                std::int32_t skip_token) const;

  int num_words() const { return num_words_; }

 private:
  int num_words_;
  int dim_;
  std::size_t offset_ = 0;
};

}  // namespace rnn_dist::model
