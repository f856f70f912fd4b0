#include <gtest/gtest.h>

#include "trainer/model/spec.h"

namespace rnn_dist::model {
namespace {

TEST(ParseLayers, ReadsStacksCaseInsensitively) {
  const auto layers = parse_layers("SimpleRNN:64, simplernn:32,lstm:8,gru:4,rnn:2");
  ASSERT_EQ(layers.size(), 5u);
  EXPECT_EQ(layers[0], (LayerSpec{"simplernn", 64}));
  EXPECT_EQ(layers[2], (LayerSpec{"lstm", 8}));
  EXPECT_EQ(layers[4], (LayerSpec{"simplernn", 2}));
  EXPECT_EQ(format_layers(layers), "simplernn:64,simplernn:32,lstm:8,gru:4,simplernn:2");
}

void expect_error(const std::string& text, const std::string& fragment) {
  try {
    parse_layers(text);
    ADD_FAILURE() << "'" << text << "' was accepted";
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
        << "message '" << e.what() << "' does not name '" << fragment << "'";
  }
}

TEST(ParseLayers, RejectsMalformedSpecsNamingTheItem) {
  expect_error("transformer:32", "transformer");
  expect_error("lstm", "lstm");
  expect_error("lstm:0", "lstm:0");
  expect_error("lstm:-3", "-3");
  expect_error("lstm:3x", "3x");
  expect_error("lstm:32,", "empty");
  expect_error("", "empty");
}

TEST(ValidateSpec, RejectsTooSmallVocabularyAndEmbedding) {
  ModelSpec spec;
  spec.num_words = 3;
  EXPECT_THROW(validate(spec), SpecError);
  spec = {};
  spec.embed_dim = 0;
  EXPECT_THROW(validate(spec), SpecError);
  spec = {};
  spec.layers.clear();
  EXPECT_THROW(validate(spec), SpecError);
}

}  // namespace
}  // namespace rnn_dist::model
