#include "trainer/model/dense.h"

#include "trainer/model/init.h"

namespace rnn_dist::model {

void Dense::declare(ParameterLayout& layout, const std::string& name) {
  kernel_ = layout.add(name + "/kernel", {input_dim_, units_});
  bias_ = layout.add(name + "/bias", {units_});
}

void Dense::init(std::span<float> params, std::mt19937_64& rng) const {
  glorot_uniform(params.subspan(kernel_, static_cast<std::size_t>(input_dim_) * units_), input_dim_,
                 units_, rng);
}

// Plain loops with a fixed order of every sum, not Eigen's products and reductions: their bits
// can depend on where the buffers sit in memory (alignment peeling), and a micro-batch must give
// the same bits wherever it is computed (train/gradient_step.h). The sizes here are tiny
// (units x input_dim, e.g. 1 x 32, per column).
void Dense::forward(const float* params, ConstMatrixRef x, MatrixRef y) const {
  const float* wt = params + kernel_;  // (units, input_dim), column-major
  const float* b = params + bias_;
  for (Eigen::Index j = 0; j < x.cols(); ++j)
    for (int o = 0; o < units_; ++o) {
      float acc = 0;
      for (int i = 0; i < input_dim_; ++i) acc += wt[i * units_ + o] * x(i, j);
      y(o, j) = acc + b[o];
    }
}

void Dense::backward(const float* params, float* grads, ConstMatrixRef x, ConstMatrixRef dy,
                     MatrixRef dx) const {
  const float* wt = params + kernel_;
  float* dwt = grads + kernel_;
  float* db = grads + bias_;
  for (int i = 0; i < input_dim_; ++i)
    for (int o = 0; o < units_; ++o) {
      float acc = 0;
      for (Eigen::Index j = 0; j < x.cols(); ++j) acc += dy(o, j) * x(i, j);
      dwt[i * units_ + o] += acc;
    }
  for (int o = 0; o < units_; ++o) {
    float acc = 0;
    for (Eigen::Index j = 0; j < dy.cols(); ++j) acc += dy(o, j);
    db[o] += acc;
  }
  for (Eigen::Index j = 0; j < dy.cols(); ++j)
    for (int i = 0; i < input_dim_; ++i) {
      float acc = 0;
      for (int o = 0; o < units_; ++o) acc += wt[i * units_ + o] * dy(o, j);
      dx(i, j) = acc;
    }
}

}  // namespace rnn_dist::model
