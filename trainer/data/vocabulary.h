// The word index of keras.datasets.imdb: 0 = padding, 1 = start of sequence, 2 = out of
// vocabulary, 3 unused; the word of frequency rank k in the training split (k = 1 for the most
// frequent) has index k + kIndexFrom, so the most frequent word ("the") is 4. Ranks are ordered by
// count descending, ties broken by the word's bytes ascending, so a vocabulary is a deterministic
// function of the training text. The whole vocabulary is kept; the num_words cap is applied when
// ids are turned into model input (cap_id).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "rnn_dist.pb.h"

namespace rnn_dist::data {

inline constexpr uint32_t kPadId = 0;
inline constexpr uint32_t kStartId = 1;
inline constexpr uint32_t kOovId = 2;
inline constexpr uint32_t kUnusedId = 3;
inline constexpr uint32_t kIndexFrom = 3;

// Returns `id` if id < num_words, else kOovId. REQUIRES: num_words >= 4 (validate first with
// check_num_words).
inline uint32_t cap_id(uint32_t id, uint32_t num_words) { return id < num_words ? id : kOovId; }

// Throws DataError naming the value unless num_words >= 4.
void check_num_words(int64_t num_words);

namespace detail {
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using WordMap = std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>>;
}  // namespace detail

class Vocabulary {
 public:
  Vocabulary() = default;

  // REQUIRES: words are distinct and already in rank order (count descending, bytes ascending);
  // counts.size() == words.size(). Throws DataError otherwise.
  Vocabulary(std::vector<std::string> words, std::vector<uint64_t> counts);

  // Words in rank order; words()[k] has id k + 4.
  size_t size() const { return words_.size(); }
  const std::vector<std::string>& words() const { return words_; }
  const std::vector<uint64_t>& counts() const { return counts_; }

  // The uncapped id of `word` (>= 4), or kOovId if it is not in the vocabulary.
  uint32_t id(std::string_view word) const;

  // The word with id `id`. REQUIRES: 4 <= id < size() + 4.
  const std::string& word(uint32_t id) const { return words_[id - kIndexFrom - 1]; }

  // Tokenises `text` (see tokenizer.h) and returns kStartId followed by the uncapped id of every
  // word (kOovId for unknown words): what `predict` feeds the model after capping. Throws
  // DataError on invalid UTF-8.
  std::vector<uint32_t> encode_text(std::string_view text,
                                    const pb::TokenizerOptions& options) const;

  pb::Vocabulary to_proto() const;
  // Throws DataError if the message is inconsistent (index_from != 3, counts/words mismatch,
  // duplicate words).
  static Vocabulary from_proto(const pb::Vocabulary& proto);

 private:
  std::vector<std::string> words_;
  std::vector<uint64_t> counts_;
  detail::WordMap index_;  // word -> uncapped id
};

// Counts words while assigning each distinct word a dense provisional id in order of first
// appearance, so a caller can store provisional ids and remap them to final ids after finish().
class VocabularyCounter {
 public:
  // Counts one occurrence of `word`; returns its provisional id.
  uint32_t add(std::string_view word);

  size_t distinct() const { return words_.size(); }

  // Builds the ranked vocabulary. If `final_ids` is non-null it receives, for each provisional
  // id p, the final uncapped id (rank + 3) of that word. Leaves the counter empty.
  Vocabulary finish(std::vector<uint32_t>* final_ids = nullptr);

 private:
  detail::WordMap index_;  // word -> provisional id
  std::vector<std::string> words_;
  std::vector<uint64_t> counts_;
};

}  // namespace rnn_dist::data
