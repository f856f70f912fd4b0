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

TEST(ParseLayers, ReadsTheGruResetAfterOption) {
  const auto layers = parse_layers("gru:8:reset_after=false, GRU:4:Reset_After=True,gru:2");
  ASSERT_EQ(layers.size(), 3u);
  EXPECT_EQ(layers[0], (LayerSpec{"gru", 8, false}));
  EXPECT_EQ(layers[1], (LayerSpec{"gru", 4, true}));
  EXPECT_EQ(layers[2], (LayerSpec{"gru", 2, true}));
  EXPECT_EQ(format_layers(layers), "gru:8:reset_after=false,gru:4,gru:2");
  EXPECT_EQ(parse_layers(format_layers(layers)), layers);
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
  expect_error("lstm:32:reset_after=false", "only gru");
  expect_error("gru:32:reset_after=no", "reset_after=no");
  expect_error("gru:32:reset_before", "reset_before");
  expect_error("gru:32x:reset_after=false", "32x");
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
