// The model description given on the command line (`--layers lstm:32`, `--embed 32`,
// `--num-words 10000`, `--mask-padding`) and its validation.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace rnn_dist::model {

struct LayerSpec {
  std::string type;  // "simplernn", "lstm" or "gru"
  int units = 0;
  // GRU only: Keras's reset_after (true, the default: gru.h; false: gru_reset_before.h).
  bool reset_after = true;
  bool operator==(const LayerSpec&) const = default;
};

struct ModelSpec {
  int num_words = 10000;
  int embed_dim = 32;
  std::vector<LayerSpec> layers{{"lstm", 32}};
  bool mask_padding = false;
  bool operator==(const ModelSpec&) const = default;
};

// Thrown for a malformed or out-of-range spec; the message names the offending text.
class SpecError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Parses "type:units[,type:units...]", type case-insensitive among simplernn (alias rnn), lstm,
// gru; units a positive integer; a GRU may add ":reset_after=false" (or "=true", the default).
// Throws SpecError naming the bad item.
std::vector<LayerSpec> parse_layers(const std::string& text);
// "lstm:32" style text of a layer list (inverse of parse_layers; ":reset_after=false" only when
// a GRU has it).
std::string format_layers(const std::vector<LayerSpec>& layers);
// Throws SpecError if any size is out of range (num_words >= 4, embed_dim >= 1, >= 1 layer).
void validate(const ModelSpec& spec);

}  // namespace rnn_dist::model
