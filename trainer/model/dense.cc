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

void Dense::forward(const float* params, ConstMatrixRef x, MatrixRef y) const {
  ConstMatrixMap wt(params + kernel_, units_, input_dim_);
  ConstVectorMap b(params + bias_, units_);
  y.noalias() = wt * x;
  y.colwise() += b;
}

void Dense::backward(const float* params, float* grads, ConstMatrixRef x, ConstMatrixRef dy,
                     MatrixRef dx) const {
  ConstMatrixMap wt(params + kernel_, units_, input_dim_);
  MatrixMap dwt(grads + kernel_, units_, input_dim_);
  VectorMap db(grads + bias_, units_);
  dwt.noalias() += dy * x.transpose();
  db += dy.rowwise().sum();
  dx.noalias() = wt.transpose() * dy;
}

}  // namespace rnn_dist::model
