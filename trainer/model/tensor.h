// Eigen types used by every layer, and the one layout convention of the project.
//
// All matrices are Eigen's default column-major. A sequence of T steps for a batch of B examples
// with F features is stored TIME-MAJOR as an (F, T*B) matrix: column t*B + b is example b at step
// t, so step t is the contiguous block of columns [t*B, (t+1)*B).
//
// A Keras kernel of shape (in, out) stored row-major is, byte for byte, the column-major
// (out, in) matrix W^T; layers map their flat parameter slices that way, so y = W^T x is
// `map(kernel) * x` with no transpose copy.
#pragma once

#include <Eigen/Core>

namespace rnn_dist::model {

using Matrix = Eigen::MatrixXf;
using Vector = Eigen::VectorXf;
using MatrixMap = Eigen::Map<Eigen::MatrixXf>;
using ConstMatrixMap = Eigen::Map<const Eigen::MatrixXf>;
using VectorMap = Eigen::Map<Eigen::VectorXf>;
using ConstVectorMap = Eigen::Map<const Eigen::VectorXf>;
using MatrixRef = Eigen::Ref<Eigen::MatrixXf>;
using ConstMatrixRef = Eigen::Ref<const Eigen::MatrixXf>;

}  // namespace rnn_dist::model
