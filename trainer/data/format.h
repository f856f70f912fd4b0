// Internal to trainer/data: constants and helpers of the prepared file layout shared by the
// writer (prepare) and the reader (PreparedDataset). See prepared_dataset.h for the layout.
#pragma once

#include <cstdint>
#include <string_view>

namespace rnn_dist::data {

inline constexpr std::string_view kPreparedMagic = "RNNDPREP";
inline constexpr uint64_t kAlignment = 64;
// magic + uint32 version + uint64 header length.
inline constexpr uint64_t kFixedPrefixBytes = 8 + 4 + 8;

inline constexpr uint64_t align_up(uint64_t x) {
  return (x + kAlignment - 1) / kAlignment * kAlignment;
}

}  // namespace rnn_dist::data
