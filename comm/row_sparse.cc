#include "comm/row_sparse.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace rnn_dist::comm {

RowSparseAllreduce::RowSparseAllreduce(std::size_t table_begin, std::size_t rows, std::size_t width)
    : begin_(table_begin), rows_(rows), width_(width) {
  if (width == 0) throw std::invalid_argument("RowSparseAllreduce: row width must be >= 1");
}

void RowSparseAllreduce::reduce(Communicator& comm, std::span<float> data) {
  const std::size_t table = rows_ * width_, end = begin_ + table;
  if (data.size() < end)
    throw std::invalid_argument("RowSparseAllreduce: a table of " + std::to_string(rows_) + " x " +
                                std::to_string(width_) + " floats at " + std::to_string(begin_) +
                                " does not fit in a buffer of " + std::to_string(data.size()));
  // Which rows are non-zero here, then on any rank.
  bits_.assign((rows_ + 63) / 64, 0);
  const float* rows = data.data() + begin_;
  for (std::size_t r = 0; r < rows_; ++r) {
    const float* row = rows + r * width_;
    for (std::size_t k = 0; k < width_; ++k)
      if (row[k] != 0.0f) {
        bits_[r / 64] |= std::uint64_t{1} << (r % 64);
        break;
      }
  }
  comm.allreduce_or(bits_);
  sent_.clear();
  for (std::size_t w = 0; w < bits_.size(); ++w)
    for (std::uint64_t b = bits_[w]; b != 0; b &= b - 1)
      sent_.push_back(static_cast<std::uint32_t>(w * 64 + static_cast<std::size_t>(__builtin_ctzll(b))));
  // Every rank has the same bitmap, so every rank takes the same branch.
  if (static_cast<double>(sent_.size()) > kDenseFraction * static_cast<double>(rows_)) {
    rows_sent_ = rows_;
    comm.allreduce_sum(data);
    return;
  }
  rows_sent_ = sent_.size();
  const std::size_t rest = data.size() - table;
  packed_.resize(rest + sent_.size() * width_);
  float* out = packed_.data();
  out = std::copy(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(begin_), out);
  out = std::copy(data.begin() + static_cast<std::ptrdiff_t>(end), data.end(), out);
  for (std::uint32_t r : sent_) out = std::copy_n(rows + std::size_t(r) * width_, width_, out);
  comm.allreduce_sum(packed_);
  const float* in = packed_.data();
  std::copy_n(in, begin_, data.begin());
  std::copy_n(in + begin_, rest - begin_, data.begin() + static_cast<std::ptrdiff_t>(end));
  in += rest;
  for (std::uint32_t r : sent_) {
    std::copy_n(in, width_, data.begin() + static_cast<std::ptrdiff_t>(begin_ + std::size_t(r) * width_));
    in += width_;
  }
}

}  // namespace rnn_dist::comm
