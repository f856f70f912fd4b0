// Import of a TensorFlow.js Layers model (model.json + its weight files, as tfjs-layers'
// model.save or tensorflowjs_converter write them) into an rnn_dist checkpoint.
//
// Supported: a Sequential model [InputLayer] -> Embedding(input_dim, output_dim, mask_zero) ->
// one or more SimpleRNN / LSTM / GRU (tanh activation; sigmoid recurrent activation; bias;
// return_sequences on every layer but the last; GRU reset_after true or false; not stateful, not
// go_backwards) -> Dense(1, sigmoid), float32 weights. Anything else is refused naming the layer
// and the setting. The text pipeline (vocabulary, maxlen, padding) comes from an rnn_dist text
// pipeline file (text_pipeline_json.h), by default vocab.json beside model.json.
//
// The checkpoint holds the model, fresh rmsprop state and the training state of a run that has
// not started, with train's default seed, batch size and validation split (`train --resume` with
// those settings fine-tunes it).
#pragma once

#include <string>

#include "rnn_dist.pb.h"

namespace rnn_dist::interop {

// Throws InteropError naming the file, layer or setting that is missing, damaged or unsupported.
pb::Checkpoint import_tfjs(const std::string& model_json, const std::string& text_pipeline);

}  // namespace rnn_dist::interop
