#include "trainer/data/tokenizer.h"

#include <gtest/gtest.h>

#include "tests/data/test_util.h"

namespace rnn_dist::data {
namespace {

using Words = std::vector<std::string>;

Words words_of(std::string_view text) {
  Words out;
  tokenize(text, default_tokenizer_options(), out, "test.txt");
  return out;
}

TEST(Tokenizer, StripsHtmlLineBreaks) {
  EXPECT_EQ(words_of("end.<br /><br />Next"), (Words{"end", "next"}));
  EXPECT_EQ(words_of("a<br/>b"), (Words{"a", "b"}));
  EXPECT_EQ(words_of("<i>italic</i> and <SPOILER>x</SPOILER>"), (Words{"italic", "and", "x"}));
}

TEST(Tokenizer, KeepsTextOfLessThanSignsThatAreNotTags) {
  EXPECT_EQ(words_of("< Cough > <3 a<<b"), (Words{"cough", "3", "a", "b"}));
  // An unclosed or overlong '<' is no tag: its text stays.
  EXPECT_EQ(words_of("<b never closed"), (Words{"b", "never", "closed"}));
  const std::string longer = "<a" + std::string(70, 'x') + ">";
  EXPECT_EQ(words_of(longer), (Words{"a" + std::string(70, 'x')}));
}

TEST(Tokenizer, KeepsTagsWhenHtmlStrippingIsOff) {
  pb::TokenizerOptions options = default_tokenizer_options();
  options.set_strip_html(false);
  Words out;
  tokenize("a<br />b", options, out);
  EXPECT_EQ(out, (Words{"a", "br", "b"}));
}

TEST(Tokenizer, LowercasesAsciiAndLatin1) {
  EXPECT_EQ(words_of("The QUICK Fox"), (Words{"the", "quick", "fox"}));
  EXPECT_EQ(words_of("CAF\xc3\x89 \xc3\x96L"), (Words{"caf\xc3\xa9", "\xc3\xb6l"}));
  pb::TokenizerOptions options = default_tokenizer_options();
  options.set_lowercase(false);
  Words out;
  tokenize("The Fox", options, out);
  EXPECT_EQ(out, (Words{"The", "Fox"}));
}

TEST(Tokenizer, StripsOuterApostrophesAndKeepsInnerOnes) {
  EXPECT_EQ(words_of("'hello' don't ''' rock'n'roll"), (Words{"hello", "don't", "rock'n'roll"}));
  // Curly and acute-accent apostrophes become ASCII ones.
  EXPECT_EQ(words_of("don\xe2\x80\x99t it\xc2\xb4s \xe2\x80\x98quoted\xe2\x80\x99"),
            (Words{"don't", "it's", "quoted"}));
}

TEST(Tokenizer, KeepsDigitsInWords) {
  EXPECT_EQ(words_of("10/10, 1970s, 3.5 stars"), (Words{"10", "10", "1970s", "3", "5", "stars"}));
}

TEST(Tokenizer, TreatsNonAsciiLettersAsWordCharacters) {
  EXPECT_EQ(words_of("caf\xc3\xa9 na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac"),
            (Words{"caf\xc3\xa9", "na\xc3\xafve", "\xe6\x97\xa5\xe6\x9c\xac"}));
}

TEST(Tokenizer, SplitsAtNonAsciiPunctuation) {
  // En dash, C1 mojibake dash U+0096, no-break space, ellipsis, guillemets.
  EXPECT_EQ(words_of("a\xe2\x80\x93"
                     "b c\xc2\x96"
                     "d e\xc2\xa0"
                     "f g\xe2\x80\xa6h \xc2\xabi\xc2\xbb"),
            (Words{"a", "b", "c", "d", "e", "f", "g", "h", "i"}));
}

TEST(Tokenizer, RefusesInvalidUtf8NamingTheSource) {
  testing::expect_data_error([] { words_of("ok \xff bad"); },
                             {"invalid UTF-8", "byte 3", "test.txt"});
  testing::expect_data_error([] { words_of("\xc3"); }, {"invalid UTF-8"});              // truncated
  testing::expect_data_error([] { words_of("\xc0\xaf"); }, {"invalid UTF-8"});          // overlong
  testing::expect_data_error([] { words_of("\xed\xa0\x80"); }, {"invalid UTF-8"});      // surrogate
  testing::expect_data_error([] { words_of("\xf4\x90\x80\x80"); }, {"invalid UTF-8"});  // > 10FFFF
}

TEST(Tokenizer, AcceptsAllValidUtf8Lengths) {
  EXPECT_EQ(find_invalid_utf8("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"), 10u);
}

TEST(Tokenizer, RefusesAnotherTokenizerVersion) {
  pb::TokenizerOptions options = default_tokenizer_options();
  options.set_version(kTokenizerVersion + 1);
  Words out;
  testing::expect_data_error([&] { tokenize("a", options, out); }, {"tokenizer version"});
}

TEST(Tokenizer, ReusesTheOutputVector) {
  Words out{"stale", "words", "here", "four"};
  tokenize("one two", default_tokenizer_options(), out);
  EXPECT_EQ(out, (Words{"one", "two"}));
  tokenize("", default_tokenizer_options(), out);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace rnn_dist::data
