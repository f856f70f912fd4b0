// Summing a buffer over ranks when most rows of one table in it are zero on every rank: the
// embedding gradient, where only the rows of the batch's words are non-zero (about 40% of
// Embedding(10000, 32)'s rows for a global batch of 128 IMDB reviews, 26% for 64).
//
// reduce() leaves in `data` what comm.allreduce_sum(data) would, moving less: first the ranks
// OR together a bitmap of the table rows they have non-zero (rows / 64 words), then one
// allreduce_sum moves the rest of the buffer and, packed behind it, only the rows that are
// non-zero on some rank. Rows zero on every rank are not sent; they stay zero. When more than
// kDenseFraction of the rows are needed it sends the whole buffer instead, where packing would
// cost more than it saves. Built on Communicator's verbs only (no MPI here).
//
// T is float (the plain sum) or std::int64_t (training's exact fixed-point sum,
// trainer/train/exact_sum.h, whose callers know which rows they touched and pass that bitmap).
//
// Thread-compatibility: one object per caller; reduce() reuses its buffers (no allocation once
// they have grown).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "comm/communicator.h"

namespace rnn_dist::comm {

// The rows of a table that are non-zero on some rank: the OR of every rank's bitmap (bit r of
// word r / 64), listed in ascending order, with each listed row's position in that list. For a
// caller that writes its values straight into the packed form [other values | listed rows]
// (training's exact sum, trainer/train/gradient_step.cc), so that nothing is copied in or out.
class RowUnion {
 public:
  explicit RowUnion(std::size_t rows);

  std::size_t words() const { return (rows_ + 63) / 64; }
  // Collective: the union of the ranks' `rows` (words() words each; every rank alike).
  // Throws std::invalid_argument for a bitmap of another size (before any collective).
  void agree(Communicator& comm, std::span<const std::uint64_t> rows);
  // The rows of the last agree(), ascending.
  std::span<const std::uint32_t> rows() const { return listed_; }
  // Position of row r in rows(). REQUIRES: r is listed.
  std::uint32_t slot(std::uint32_t r) const { return slot_[r]; }

 private:
  std::size_t rows_;
  std::vector<std::uint64_t> bits_;
  std::vector<std::uint32_t> listed_;
  std::vector<std::uint32_t> slot_;  // by row; meaningful for the listed rows only
};

template <class T = float>
class RowSparseAllreduce {
 public:
  static constexpr double kDenseFraction = 0.75;

  // The table: elements [table_begin, table_begin + rows * width) of the buffers given to
  // reduce(), row r at table_begin + r * width. Throws std::invalid_argument if width == 0.
  RowSparseAllreduce(std::size_t table_begin, std::size_t rows, std::size_t width);

  // Collective: the element-wise sum of `data` over ranks, in place. A row counts as non-zero if
  // any of its elements is not == 0 (so NaN and infinities are sent, and seen after the sum).
  // REQUIRES: the same data.size() and table on every rank. Throws std::invalid_argument if the
  // table does not fit in data (on every rank alike, before any collective).
  void reduce(Communicator& comm, std::span<T> data);
  // The same with the rows this rank has non-zero given as a bitmap (bit r of word r / 64; rows
  // outside it must be zero here), instead of found by scanning the table.
  void reduce(Communicator& comm, std::span<T> data, std::span<const std::uint64_t> rows);
  // The rows some rank had non-zero in the last reduce(), ascending (every row when it sent the
  // whole buffer).
  std::span<const std::uint32_t> rows() const { return sent_; }

  // Table rows the last reduce() sent (all of them when it sent the whole buffer).
  std::size_t rows_sent() const { return rows_sent_; }

 private:
  std::size_t begin_, rows_, width_;
  std::size_t rows_sent_ = 0;
  std::vector<std::uint64_t> bits_;  // bit r: row r is non-zero here
  RowUnion union_;                   // the rows non-zero on some rank
  std::vector<std::uint32_t> sent_;  // the rows sent, ascending
  std::vector<T> packed_;            // the rest of the buffer, then the sent rows
  void check_fits(std::size_t size) const;
  void reduce_marked(Communicator& comm, std::span<T> data);  // bits_ holds this rank's rows
};

extern template class RowSparseAllreduce<float>;
extern template class RowSparseAllreduce<std::int64_t>;

}  // namespace rnn_dist::comm
