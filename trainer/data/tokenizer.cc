#include "trainer/data/tokenizer.h"

#include <algorithm>
#include <cstdint>

#include "trainer/data/data_error.h"

namespace rnn_dist::data {
namespace {

constexpr size_t kMaxTagBytes = 64;

inline bool is_ascii_word(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Decodes the (valid) multi-byte sequence starting at text[i]; sets `len` to its byte count.
inline uint32_t decode(std::string_view text, size_t i, size_t& len) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
  const unsigned char c = b(0);
  if (c < 0xE0) {
    len = 2;
    return ((c & 0x1Fu) << 6) | (b(1) & 0x3Fu);
  }
  if (c < 0xF0) {
    len = 3;
    return ((c & 0x0Fu) << 12) | ((b(1) & 0x3Fu) << 6) | (b(2) & 0x3Fu);
  }
  len = 4;
  return ((c & 0x07u) << 18) | ((b(1) & 0x3Fu) << 12) | ((b(2) & 0x3Fu) << 6) | (b(3) & 0x3Fu);
}

enum class Kind { kSeparator, kApostrophe, kLetter };

inline Kind classify(uint32_t cp) {
  if (cp == 0x2018 || cp == 0x2019 || cp == 0xB4 || cp == 0x91 || cp == 0x92) {
    return Kind::kApostrophe;
  }
  if ((cp >= 0x80 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 || (cp >= 0x2000 && cp <= 0x206F) ||
      cp == 0x3000 || cp == 0xFEFF) {
    return Kind::kSeparator;
  }
  return Kind::kLetter;
}

// Length of the HTML tag starting at text[i] (text[i] == '<'), or 0 if none starts there.
inline size_t tag_length(std::string_view text, size_t i) {
  if (i + 1 >= text.size()) return 0;
  const unsigned char first = static_cast<unsigned char>(text[i + 1]);
  if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') || first == '/' ||
        first == '!')) {
    return 0;
  }
  const size_t limit = std::min(text.size(), i + kMaxTagBytes);
  for (size_t k = i + 2; k < limit; ++k) {
    if (text[k] == '>') return k - i + 1;
    if (text[k] == '<') return 0;
  }
  return 0;
}

}  // namespace

pb::TokenizerOptions default_tokenizer_options() {
  pb::TokenizerOptions options;
  options.set_lowercase(true);
  options.set_strip_html(true);
  options.set_version(kTokenizerVersion);
  return options;
}

size_t find_invalid_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t min_cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2, min_cp = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3, min_cp = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4, min_cp = 0x10000;
    } else {
      return i;  // continuation byte, overlong lead C0/C1, or F5..FF
    }
    if (i + len > n) return i;
    uint32_t cp = c & (0xFFu >> (len + 1));
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (p[i + k] & 0x3Fu);
    }
    if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return n;
}

void tokenize(std::string_view text, const pb::TokenizerOptions& options,
              std::vector<std::string>& out, std::string_view source) {
  if (options.version() != kTokenizerVersion) {
    throw DataError("tokenizer version " + std::to_string(options.version()) +
                    " is not supported by this build (reads " + std::to_string(kTokenizerVersion) +
                    ")");
  }
  if (const size_t bad = find_invalid_utf8(text); bad != text.size()) {
    throw DataError("invalid UTF-8 at byte " + std::to_string(bad) + " of " + std::string(source));
  }
  size_t used = 0;  // words of `out` filled so far; the rest are spare buffers
  std::string word;
  const auto finish_word = [&]() {
    size_t begin = 0, end = word.size();
    while (begin < end && word[begin] == '\'') ++begin;
    while (end > begin && word[end - 1] == '\'') --end;
    if (begin < end) {
      if (used == out.size()) out.emplace_back();
      out[used++].assign(word, begin, end - begin);
    }
    word.clear();
  };
  const bool lower = options.lowercase();
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (is_ascii_word(c)) {
        word.push_back(static_cast<char>(lower && c >= 'A' && c <= 'Z' ? c + 32 : c));
      } else if (c == '\'') {
        word.push_back('\'');
      } else {
        if (!word.empty()) finish_word();
        if (c == '<' && options.strip_html()) {
          if (const size_t tag = tag_length(text, i); tag > 0) {
            i += tag;
            continue;
          }
        }
      }
      ++i;
      continue;
    }
    size_t len;
    const uint32_t cp = decode(text, i, len);
    switch (classify(cp)) {
      case Kind::kApostrophe:
        word.push_back('\'');
        break;
      case Kind::kSeparator:
        if (!word.empty()) finish_word();
        break;
      case Kind::kLetter:
        if (lower && cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) {
          word.push_back(text[i]);                              // 0xC3
          word.push_back(static_cast<char>(text[i + 1] + 32));  // 0x80..0x9E -> 0xA0..0xBE
        } else {
          word.append(text.data() + i, len);
        }
        break;
    }
    i += len;
  }
  if (!word.empty()) finish_word();
  out.resize(used);
}

}  // namespace rnn_dist::data
