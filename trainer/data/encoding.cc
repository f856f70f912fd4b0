#include "trainer/data/encoding.h"

#include <algorithm>
#include <string>

#include "trainer/data/data_error.h"
#include "trainer/data/vocabulary.h"

namespace rnn_dist::data {

Padding parse_padding(std::string_view text) {
  if (text == "pre") return Padding::kPre;
  if (text == "post") return Padding::kPost;
  throw DataError("padding/truncating must be 'pre' or 'post': got '" + std::string(text) + "'");
}

std::string_view padding_name(Padding padding) { return padding == Padding::kPre ? "pre" : "post"; }

void SequenceOptions::validate() const {
  check_num_words(num_words);
  if (maxlen < 1) throw DataError("maxlen must be at least 1: got " + std::to_string(maxlen));
}

int effective_length(std::span<const uint32_t> tokens, int maxlen) {
  return static_cast<int>(std::min<size_t>(tokens.size(), static_cast<size_t>(maxlen)));
}

int batch_time_steps(const SplitView& split, std::span<const uint32_t> examples, int maxlen) {
  int longest = 0;
  for (uint32_t e : examples)
    longest = std::max(longest, effective_length(split.tokens(e), maxlen));
  return longest;
}

void fill_batch(const SplitView& split, std::span<const uint32_t> examples,
                const SequenceOptions& options, int T, std::span<int32_t> tokens,
                std::span<float> labels) {
  const size_t B = examples.size();
  if (T < 0 || tokens.size() != static_cast<size_t>(T) * B || labels.size() != B) {
    throw DataError("fill_batch: buffers of " + std::to_string(tokens.size()) + " tokens and " +
                    std::to_string(labels.size()) + " labels do not match T=" + std::to_string(T) +
                    " B=" + std::to_string(B));
  }
  std::fill(tokens.begin(), tokens.end(), 0);
  const auto num_words = static_cast<uint32_t>(options.num_words);
  for (size_t b = 0; b < B; ++b) {
    const std::span<const uint32_t> seq = split.tokens(examples[b]);
    const int L = effective_length(seq, options.maxlen);
    if (L > T) {
      throw DataError("fill_batch: example " + std::to_string(examples[b]) + " of split '" +
                      std::string(split.name()) + "' has " + std::to_string(L) +
                      " steps but the batch has T=" + std::to_string(T));
    }
    // Truncation: kPre drops the front of a long sequence (keeps the last L ids).
    const size_t first = options.truncating == Padding::kPre ? seq.size() - L : 0;
    // Padding: kPre puts the sequence at the end of the T steps.
    const int t0 = options.padding == Padding::kPre ? T - L : 0;
    for (int k = 0; k < L; ++k) {
      tokens[static_cast<size_t>(t0 + k) * B + b] =
          static_cast<int32_t>(cap_id(seq[first + k], num_words));
    }
    labels[b] = static_cast<float>(split.label(examples[b]));
  }
}

}  // namespace rnn_dist::data
