#include "trainer/data/vocabulary.h"

#include <algorithm>
#include <numeric>

#include "trainer/data/data_error.h"
#include "trainer/data/tokenizer.h"

namespace rnn_dist::data {

void check_num_words(int64_t num_words) {
  if (num_words < 4) {
    throw DataError("num_words must be at least 4 (0 pad, 1 start, 2 OOV, 3 unused): got " +
                    std::to_string(num_words));
  }
}

Vocabulary::Vocabulary(std::vector<std::string> words, std::vector<uint64_t> counts)
    : words_(std::move(words)), counts_(std::move(counts)) {
  if (words_.size() != counts_.size()) {
    throw DataError("vocabulary has " + std::to_string(words_.size()) + " words but " +
                    std::to_string(counts_.size()) + " counts");
  }
  index_.reserve(words_.size());
  for (size_t k = 0; k < words_.size(); ++k) {
    if (k > 0 && (counts_[k - 1] < counts_[k] ||
                  (counts_[k - 1] == counts_[k] && !(words_[k - 1] < words_[k])))) {
      throw DataError("vocabulary is not in rank order at word " + std::to_string(k) + ": '" +
                      words_[k] + "'");
    }
    index_.emplace(words_[k], static_cast<uint32_t>(k + kIndexFrom + 1));
  }
}

uint32_t Vocabulary::id(std::string_view word) const {
  const auto it = index_.find(word);
  return it == index_.end() ? kOovId : it->second;
}

std::vector<uint32_t> Vocabulary::encode_text(std::string_view text,
                                              const pb::TokenizerOptions& options) const {
  std::vector<std::string> words;
  tokenize(text, options, words);
  std::vector<uint32_t> ids;
  ids.reserve(words.size() + 1);
  ids.push_back(kStartId);
  for (const auto& w : words) ids.push_back(id(w));
  return ids;
}

pb::Vocabulary Vocabulary::to_proto() const {
  pb::Vocabulary proto;
  proto.mutable_words()->Reserve(static_cast<int>(words_.size()));
  for (const auto& w : words_) proto.add_words(w);
  proto.mutable_counts()->Add(counts_.begin(), counts_.end());
  proto.set_index_from(static_cast<int32_t>(kIndexFrom));
  return proto;
}

Vocabulary Vocabulary::from_proto(const pb::Vocabulary& proto) {
  if (proto.index_from() != static_cast<int32_t>(kIndexFrom)) {
    throw DataError("vocabulary has index_from " + std::to_string(proto.index_from()) +
                    "; this build uses " + std::to_string(kIndexFrom));
  }
  std::vector<std::string> words(proto.words().begin(), proto.words().end());
  std::vector<uint64_t> counts(proto.counts().begin(), proto.counts().end());
  return Vocabulary(std::move(words), std::move(counts));
}

uint32_t VocabularyCounter::add(std::string_view word) {
  const auto it = index_.find(word);
  if (it != index_.end()) {
    ++counts_[it->second];
    return it->second;
  }
  const auto id = static_cast<uint32_t>(words_.size());
  words_.emplace_back(word);
  counts_.push_back(1);
  index_.emplace(words_.back(), id);
  return id;
}

Vocabulary VocabularyCounter::finish(std::vector<uint32_t>* final_ids) {
  std::vector<uint32_t> order(words_.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    if (counts_[a] != counts_[b]) return counts_[a] > counts_[b];
    return words_[a] < words_[b];
  });
  std::vector<std::string> words;
  std::vector<uint64_t> counts;
  words.reserve(order.size());
  counts.reserve(order.size());
  if (final_ids) final_ids->assign(order.size(), 0);
  for (size_t rank = 0; rank < order.size(); ++rank) {
    words.push_back(std::move(words_[order[rank]]));
    counts.push_back(counts_[order[rank]]);
    if (final_ids) (*final_ids)[order[rank]] = static_cast<uint32_t>(rank + kIndexFrom + 1);
  }
  index_.clear();
  words_.clear();
  counts_.clear();
  return Vocabulary(std::move(words), std::move(counts));
}

}  // namespace rnn_dist::data
