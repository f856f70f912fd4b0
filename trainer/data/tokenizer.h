// Review text -> words. The rules below are the tokenizer's contract (version kTokenizerVersion);
// any change to them must bump the version, which invalidates prepared files and is recorded in
// checkpoints so that `predict` tokenises new text exactly as training did.
//
// Input: bytes that must be valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
// U+10FFFF, no truncated sequences). Anything else is refused with a DataError naming the source
// and the byte offset. All 50,000 labeled IMDB reviews are valid UTF-8.
//
// 1. HTML tags (options.strip_html): a tag is '<' immediately followed by an ASCII letter, '/' or
//    '!', then bytes other than '<' and '>', then '>', 64 bytes at most in all ("<br />", "<i>",
//    "</SPOILER>"). A tag separates words like a space. Other '<' are ordinary separators, so
//    "< Cough >" gives "cough" and "<3" gives "3".
// 2. Word characters: ASCII letters and digits; apostrophes; and every non-ASCII code point except
//    the separators listed next, so "café" and "naïve" are single words.
//    - Apostrophes: ASCII ' and the apostrophe look-alikes U+2018, U+2019 (curly quotes), U+00B4
//      (acute accent, "don´t") and U+0091, U+0092 (the cp1252 quotes that IMDB's mojibake text
//      carries as C1 controls). All are written as ASCII ' in the word.
//    - Non-ASCII separators: U+0080..U+00BF (C1 controls such as the mojibake dashes U+0096,
//      U+0097 and ellipsis U+0085; no-break space; Latin-1 punctuation and symbols such as « » £
//      ½), U+00D7 (×), U+00F7 (÷), U+2000..U+206F (General Punctuation: dashes, quotes, ellipsis,
//      special spaces), U+3000 (ideographic space) and U+FEFF (byte-order mark).
//    Every other byte (ASCII punctuation, spaces, control characters) is a separator.
// 3. A word is a maximal run of word characters with its leading and trailing apostrophes removed
//    ("'hello'" -> "hello", "don't" stays); a run of apostrophes alone is no word.
// 4. Lower case (options.lowercase): ASCII A-Z and Latin-1 upper-case letters U+00C0..U+00DE
//    (except U+00D7) are folded to lower case; other code points are left as they are.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "rnn_dist.pb.h"

namespace rnn_dist::data {

inline constexpr int kTokenizerVersion = 1;

// The options every prepared file made by this build uses: lowercase, strip_html, version 1.
pb::TokenizerOptions default_tokenizer_options();

// Returns the byte offset of the first invalid UTF-8 sequence in `text`, or text.size() if the
// whole text is valid.
size_t find_invalid_utf8(std::string_view text);

// Splits `text` into words by the rules above, replacing the contents of `out` (its capacity and
// its strings' buffers are reused). `source` names the text in error messages (a file path).
// Throws DataError if `text` is not valid UTF-8 or options.version is not kTokenizerVersion.
void tokenize(std::string_view text, const pb::TokenizerOptions& options,
              std::vector<std::string>& out, std::string_view source = "text");

}  // namespace rnn_dist::data
