#include "comm/row_sparse.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

namespace rnn_dist::comm {

RowUnion::RowUnion(std::size_t rows) : rows_(rows), slot_(rows) {}

void RowUnion::agree(Communicator& comm, std::span<const std::uint64_t> rows) {
  if (rows.size() != words())
    throw std::invalid_argument("RowUnion: a bitmap of " + std::to_string(rows.size()) +
                                " words for " + std::to_string(rows_) + " rows");
  bits_.assign(rows.begin(), rows.end());
  comm.allreduce_or(bits_);
  listed_.clear();
  for (std::size_t w = 0; w < bits_.size(); ++w)
    for (std::uint64_t b = bits_[w]; b != 0; b &= b - 1) {
      const auto r = static_cast<std::uint32_t>(w * 64 + static_cast<std::size_t>(__builtin_ctzll(b)));
      slot_[r] = static_cast<std::uint32_t>(listed_.size());
      listed_.push_back(r);
    }
}

template <class T>
RowSparseAllreduce<T>::RowSparseAllreduce(std::size_t table_begin, std::size_t rows, std::size_t width)
    : begin_(table_begin), rows_(rows), width_(width), union_(rows) {
  if (width == 0) throw std::invalid_argument("RowSparseAllreduce: row width must be >= 1");
}

template <class T>
void RowSparseAllreduce<T>::check_fits(std::size_t size) const {
  if (size < begin_ + rows_ * width_)
    throw std::invalid_argument("RowSparseAllreduce: a table of " + std::to_string(rows_) + " x " +
                                std::to_string(width_) + " elements at " + std::to_string(begin_) +
                                " does not fit in a buffer of " + std::to_string(size));
}

template <class T>
void RowSparseAllreduce<T>::reduce(Communicator& comm, std::span<T> data) {
  check_fits(data.size());
  // Which rows are non-zero here.
  bits_.assign((rows_ + 63) / 64, 0);
  const T* rows = data.data() + begin_;
  for (std::size_t r = 0; r < rows_; ++r) {
    const T* row = rows + r * width_;
    for (std::size_t k = 0; k < width_; ++k)
      if (row[k] != T{0}) {
        bits_[r / 64] |= std::uint64_t{1} << (r % 64);
        break;
      }
  }
  reduce_marked(comm, data);
}

template <class T>
void RowSparseAllreduce<T>::reduce(Communicator& comm, std::span<T> data,
                                   std::span<const std::uint64_t> rows) {
  check_fits(data.size());
  if (rows.size() != union_.words())
    throw std::invalid_argument("RowSparseAllreduce: a bitmap of " + std::to_string(rows.size()) +
                                " words for " + std::to_string(rows_) + " rows");
  bits_.assign(rows.begin(), rows.end());
  reduce_marked(comm, data);
}

template <class T>
void RowSparseAllreduce<T>::reduce_marked(Communicator& comm, std::span<T> data) {
  const std::size_t table = rows_ * width_, end = begin_ + table;
  // The rows non-zero on any rank.
  union_.agree(comm, bits_);
  sent_.assign(union_.rows().begin(), union_.rows().end());
  // Every rank has the same bitmap, so every rank takes the same branch.
  if (static_cast<double>(sent_.size()) > kDenseFraction * static_cast<double>(rows_)) {
    rows_sent_ = rows_;
    sent_.resize(rows_);
    std::iota(sent_.begin(), sent_.end(), 0u);
    comm.allreduce_sum(data);
    return;
  }
  rows_sent_ = sent_.size();
  if (comm.size() == 1) return;  // the sum of one rank is its data: nothing to pack
  const T* rows = data.data() + begin_;
  const std::size_t rest = data.size() - table;
  packed_.resize(rest + sent_.size() * width_);
  T* out = packed_.data();
  out = std::copy(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(begin_), out);
  out = std::copy(data.begin() + static_cast<std::ptrdiff_t>(end), data.end(), out);
  for (std::uint32_t r : sent_) out = std::copy_n(rows + std::size_t(r) * width_, width_, out);
  comm.allreduce_sum(std::span<T>(packed_));
  const T* in = packed_.data();
  std::copy_n(in, begin_, data.begin());
  std::copy_n(in + begin_, rest - begin_, data.begin() + static_cast<std::ptrdiff_t>(end));
  in += rest;
  for (std::uint32_t r : sent_) {
    std::copy_n(in, width_, data.begin() + static_cast<std::ptrdiff_t>(begin_ + std::size_t(r) * width_));
    in += width_;
  }
}

template class RowSparseAllreduce<float>;
template class RowSparseAllreduce<std::int64_t>;

}  // namespace rnn_dist::comm
