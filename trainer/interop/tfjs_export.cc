#include "trainer/interop/tfjs_export.h"

#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>

#include "trainer/interop/keras_layers.h"
#include "trainer/interop/text_pipeline_json.h"

namespace rnn_dist::interop {

static_assert(std::endian::native == std::endian::little,
              "weights.bin is little-endian float32: this exporter writes the host's bytes");

namespace {

using json = nlohmann::ordered_json;  // keys as written here, as Keras writes them

const char* keras_class(const std::string& type) {
  if (type == "lstm") return "LSTM";
  if (type == "gru") return "GRU";
  return "SimpleRNN";
}

json embedding_config(const KerasLayer& layer, const pb::Checkpoint& c) {
  return {{"name", layer.name},
          {"trainable", true},
          {"batch_input_shape", {nullptr, c.pipeline().maxlen()}},
          {"dtype", "float32"},
          {"input_dim", c.model().num_words()},
          {"output_dim", c.model().embed_dim()},
          {"input_length", c.pipeline().maxlen()},
          {"mask_zero", c.model().mask_padding()}};
}

json recurrent_config(const KerasLayer& layer, bool return_sequences) {
  json config = {{"name", layer.name},       {"trainable", true},
                 {"units", layer.units},     {"activation", "tanh"},
                 {"use_bias", true},         {"return_sequences", return_sequences},
                 {"return_state", false},    {"go_backwards", false},
                 {"stateful", false},        {"unroll", false},
                 {"dropout", 0},             {"recurrent_dropout", 0}};
  if (layer.type != "simplernn") config["recurrent_activation"] = "sigmoid";
  if (layer.type == "lstm") config["unit_forget_bias"] = true;
  if (layer.type == "gru") config["reset_after"] = layer.reset_after;
  return config;
}

json dense_config(const KerasLayer& layer) {
  return {{"name", layer.name}, {"trainable", true}, {"units", 1},
          {"activation", "sigmoid"}, {"use_bias", true}};
}

json layer_config(const KerasLayer& layer, std::size_t index, std::size_t count,
                  const pb::Checkpoint& c) {
  if (layer.type == "embedding")
    return {{"class_name", "Embedding"}, {"config", embedding_config(layer, c)}};
  if (layer.type == "dense") return {{"class_name", "Dense"}, {"config", dense_config(layer)}};
  return {{"class_name", keras_class(layer.type)},
          {"config", recurrent_config(layer, index + 2 < count)}};
}

// Appends the float32 bytes of `values`.
void append(std::string& bytes, const std::vector<float>& values) {
  const auto at = bytes.size();
  bytes.resize(at + values.size() * sizeof(float));
  std::memcpy(bytes.data() + at, values.data(), values.size() * sizeof(float));
}

}  // namespace

TfjsFiles tfjs_files(const pb::Checkpoint& c, const std::string& generated_by) {
  const auto layers = keras_layers(c);
  json topology_layers = json::array(), manifest = json::array();
  TfjsFiles files;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    topology_layers.push_back(layer_config(layers[i], i, layers.size(), c));
    for (const auto* t : layers[i].tensors) {
      manifest.push_back({{"name", t->name()}, {"shape", t->shape()}, {"dtype", "float32"}});
      // Keras's own gate order; reorder_gates applies only the test-only wrong order.
      const bool gated = layers[i].type != "embedding" && layers[i].type != "dense";
      append(files.weights, gated ? reorder_gates(*t, gate_order(layers[i].type, GateTarget::kKeras))
                                  : std::vector<float>(t->data().begin(), t->data().end()));
    }
  }
  const json model = {
      {"format", "layers-model"},
      {"generatedBy", generated_by},
      {"convertedBy", nullptr},
      {"modelTopology",
       {{"class_name", "Sequential"},
        {"config", {{"name", "sequential"}, {"layers", topology_layers}}},
        {"keras_version", "tfjs-layers 4.22.0"},
        {"backend", "tensor_flow.js"}}},
      {"weightsManifest", {{{"paths", {"weights.bin"}}, {"weights", manifest}}}},
      {"userDefinedMetadata", {{"text_pipeline", "vocab.json"}}}};
  files.model_json = model.dump(1);
  files.vocab_json = text_pipeline_json(c).dump();
  return files;
}

}  // namespace rnn_dist::interop
