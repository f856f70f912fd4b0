#include "trainer/model/init.h"

#include <Eigen/Householder>
#include <Eigen/QR>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

namespace rnn_dist::model {

float uniform01(std::mt19937_64& rng) {
  return static_cast<float>(rng() >> 40) * 0x1.0p-24f;
}

float standard_normal(std::mt19937_64& rng) {
  // u1 in (0, 1] so that log(u1) is finite; computed in double for an accurate tail.
  const double u1 = (static_cast<double>(rng() >> 11) + 1.0) * 0x1.0p-53;
  const double u2 = static_cast<double>(rng() >> 11) * 0x1.0p-53;
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) *
                            std::cos(2.0 * std::numbers::pi * u2));
}

void uniform(std::span<float> out, float lo, float hi, std::mt19937_64& rng) {
  for (float& v : out) v = lo + (hi - lo) * uniform01(rng);
}

void glorot_uniform(std::span<float> out, std::int64_t fan_in, std::int64_t fan_out,
                    std::mt19937_64& rng) {
  if (fan_in <= 0 || fan_out <= 0 || out.size() != static_cast<std::size_t>(fan_in * fan_out))
    throw std::invalid_argument("glorot_uniform: span of " + std::to_string(out.size()) +
                                " floats for fan_in " + std::to_string(fan_in) + ", fan_out " +
                                std::to_string(fan_out));
  const float limit = static_cast<float>(std::sqrt(6.0 / static_cast<double>(fan_in + fan_out)));
  uniform(out, -limit, limit, rng);
}

void orthogonal(std::span<float> out, std::int64_t rows, std::int64_t cols, std::mt19937_64& rng) {
  if (rows <= 0 || cols <= 0 || out.size() != static_cast<std::size_t>(rows * cols))
    throw std::invalid_argument("orthogonal: span of " + std::to_string(out.size()) +
                                " floats for shape (" + std::to_string(rows) + ", " +
                                std::to_string(cols) + ")");
  const Eigen::Index m = std::max(rows, cols), k = std::min(rows, cols);
  Eigen::MatrixXd a(m, k);
  for (Eigen::Index j = 0; j < k; ++j)
    for (Eigen::Index i = 0; i < m; ++i) a(i, j) = standard_normal(rng);
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(a);
  Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(m, k);  // thin Q (m, k)
  for (Eigen::Index j = 0; j < k; ++j)
    if (qr.matrixQR()(j, j) < 0) q.col(j) = -q.col(j);
  // The Keras tensor K (rows, cols) is q (rows >= cols) or q^T (rows < cols). Row-major K is the
  // column-major (cols, rows) matrix K^T, i.e. q^T or q.
  Eigen::Map<Eigen::MatrixXf> kt(out.data(), cols, rows);
  if (rows < cols)
    kt = q.cast<float>();
  else
    kt = q.transpose().cast<float>();
}

}  // namespace rnn_dist::model
