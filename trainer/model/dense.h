// Dense(units) on an input of `input_dim` features: y = W^T x + b, with Keras kernel shape
// (input_dim, units) mapped as the column-major (units, input_dim) matrix W^T.
//
// The activation is applied by the caller: the model's head Dense(1, sigmoid) hands its
// pre-activation (the logit) to the loss, which computes binary cross-entropy stably from it.
#pragma once

#include <random>
#include <span>
#include <string>

#include "trainer/model/parameters.h"
#include "trainer/model/tensor.h"

namespace rnn_dist::model {

class Dense {
 public:
  Dense(int input_dim, int units) : input_dim_(input_dim), units_(units) {}

  // Registers `<name>/kernel` {input_dim, units} and `<name>/bias` {units}.
  void declare(ParameterLayout& layout, const std::string& name);
  // glorot_uniform kernel; the bias keeps the zeros Model::init starts from (Keras's zeros).
  void init(std::span<float> params, std::mt19937_64& rng) const;

  // x: (input_dim, B) -> y: (units, B). x must stay alive until backward().
  void forward(const float* params, ConstMatrixRef x, MatrixRef y) const;
  // dy: (units, B). Adds dW, db into grads; writes dx (input_dim, B).
  void backward(const float* params, float* grads, ConstMatrixRef x, ConstMatrixRef dy,
                MatrixRef dx) const;

  int input_dim() const { return input_dim_; }
  int units() const { return units_; }

 private:
  int input_dim_;
  int units_;
  std::size_t kernel_ = 0;
  std::size_t bias_ = 0;
};

}  // namespace rnn_dist::model
