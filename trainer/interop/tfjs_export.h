// TensorFlow.js Layers export of a checkpoint: a folder holding
//   model.json    format "layers-model", modelTopology = the Keras Sequential config
//                 (Embedding with mask_zero for masked models; LSTM / GRU with
//                 recurrent_activation "sigmoid" written out, because tfjs's default is
//                 hard_sigmoid; GRU with its reset_after; Dense(1, sigmoid)), weightsManifest
//   weights.bin   every tensor as little-endian float32, in the manifest's order (Keras shapes
//                 and gate orders, so the bytes are the checkpoint's own values)
//   vocab.json    the text pipeline (text_pipeline_json.h)
// Each file is written through a temporary name and a rename, model.json last.
// TensorFlow.js 4.22 itself cannot run a GRU with reset_after true, rnn_dist's default (its
// GRUCell refuses it); the export is still the model's Keras config, which Keras reads. A GRU
// trained with `--layers gru:32:reset_after=false` runs in TensorFlow.js.
#pragma once

#include <string>

#include "rnn_dist.pb.h"

namespace rnn_dist::interop {

// The three files' contents, by file name, for a validated checkpoint.
struct TfjsFiles {
  std::string model_json, weights, vocab_json;
};
TfjsFiles tfjs_files(const pb::Checkpoint& checkpoint, const std::string& generated_by);

}  // namespace rnn_dist::interop
