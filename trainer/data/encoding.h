// Turning stored token ids into the model's input: the num_words cap, Keras pad_sequences'
// truncation and padding, and the time-major batch layout the recurrent layers read.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "trainer/data/prepared_dataset.h"

namespace rnn_dist::data {

// Where padding zeros go, or which end of a long sequence is cut (Keras: 'pre' / 'post').
enum class Padding { kPre, kPost };

// Parses "pre" / "post"; throws DataError naming the value otherwise.
Padding parse_padding(std::string_view text);
std::string_view padding_name(Padding padding);

struct SequenceOptions {
  int num_words = 10000;               // ids >= num_words become kOovId (2)
  int maxlen = 500;                    // longer sequences are truncated to maxlen
  Padding padding = Padding::kPre;     // zeros in front (kPre) or at the end (kPost)
  Padding truncating = Padding::kPre;  // kPre keeps the LAST maxlen ids, kPost the first

  // Throws DataError naming the value unless num_words >= 4 and maxlen >= 1.
  void validate() const;
};

// min(tokens.size(), maxlen): the time steps an example occupies after truncation.
int effective_length(std::span<const uint32_t> tokens, int maxlen);

// The longest effective length over `examples` of `split`: the T of a batch in variable-length
// mode (masking), where a batch is padded only up to its longest member.
int batch_time_steps(const SplitView& split, std::span<const uint32_t> examples, int maxlen);

// Fills one TIME-MAJOR batch of B = examples.size() examples of `split`:
//   tokens[t * B + b] (int32, T * B): example b at step t after capping, truncation and padding;
//                     0 = padding;
//   labels[b] (float, B): 1 = positive, 0 = negative.
// Padded mode passes T = options.maxlen; variable-length mode passes
// T = batch_time_steps(split, examples, options.maxlen). Each example's effective length L is
// placed in steps [T - L, T) with kPre padding, [0, L) with kPost.
// REQUIRES: options valid; every example index < split.size(); tokens.size() == T * B;
// labels.size() == B. Throws DataError if T is shorter than an example's effective length or a
// size does not match.
void fill_batch(const SplitView& split, std::span<const uint32_t> examples,
                const SequenceOptions& options, int T, std::span<int32_t> tokens,
                std::span<float> labels);

}  // namespace rnn_dist::data
