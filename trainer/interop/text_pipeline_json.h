// The text pipeline written beside every export (<name>.vocab.json): what a serving program needs
// to turn review text into the model's ids exactly as rnn_dist does, and what `rnn_dist import`
// reads back to rebuild a checkpoint's vocabulary and pipeline.
//
//   {"format": "rnn_dist-text-pipeline", "format_version": 1,
//    "tokenizer": {"version": 1, "lowercase": true, "strip_html": true},
//    "num_words": 10000, "index_from": 3, "pad_id": 0, "start_id": 1, "oov_id": 2,
//    "maxlen": 500, "padding": "pre", "truncating": "pre", "mask_padding": false,
//    "word_index": {"the": 4, "and": 5, ...},   // every training word -> its uncapped id
//    "counts": [336148, 164097, ...]}           // occurrences of ids 4, 5, ... in training
// A review becomes [start_id, id(word)...] (oov_id for unknown words), every id >= num_words
// becomes oov_id, then Keras pad_sequences(maxlen, padding, truncating) with 0.
// The tokenizer's rules are those of rnn_dist's trainer/data/tokenizer.h at that version.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "rnn_dist.pb.h"

namespace rnn_dist::interop {

// Keys in the order above (ordered_json), word_index in id order.
nlohmann::ordered_json text_pipeline_json(const pb::Checkpoint& checkpoint);

struct TextPipeline {
  pb::PipelineSpec pipeline;
  pb::Vocabulary vocabulary;
  int num_words = 0;
  bool mask_padding = false;
};

// Reads and checks a text pipeline file. Throws InteropError naming the file and the field that
// is missing or wrong.
TextPipeline read_text_pipeline(const std::string& path);

}  // namespace rnn_dist::interop
