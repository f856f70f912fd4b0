#include "trainer/interop/tfjs_import.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>

#include "trainer/interop/keras_layers.h"
#include "trainer/interop/text_pipeline_json.h"
#include "trainer/model/model.h"
#include "trainer/optim/optimizer.h"
#include "trainer/train/checkpointer.h"
#include "trainer/train/trainer.h"

namespace rnn_dist::interop {

namespace {

using json = nlohmann::json;
using Shape = std::vector<std::int64_t>;

void require(bool ok, const std::string& message) {
  if (!ok) throw InteropError(message);
}

json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(static_cast<bool>(in), "cannot open " + path);
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw InteropError(path + ": not valid JSON (" + e.what() + ")");
  }
}

// A layer of the Sequential config: its class, name and config object.
struct ConfigLayer {
  std::string class_name, name;
  json config;
};

// The Sequential config's layers (tfjs writes modelTopology = {class_name, config}; the Keras
// converter wraps it as modelTopology.model_config; Keras 2.0-2.2 wrote config as the list).
std::vector<ConfigLayer> sequential_layers(const json& model, const std::string& path) {
  require(model.is_object() && model.value("format", "layers-model") == "layers-model",
          path + ": not a TensorFlow.js Layers model (its 'format' is not 'layers-model')");
  require(model.contains("modelTopology"), path + ": 'modelTopology' is missing");
  json topology = model["modelTopology"];
  if (topology.contains("model_config")) topology = topology["model_config"];
  const auto class_name = topology.value("class_name", "");
  require(class_name == "Sequential", path + ": the model is a '" + class_name +
                                          "', not a Sequential model (the only kind imported)");
  const json config = topology.value("config", json::object());
  const json list = config.is_array() ? config : config.value("layers", json::array());
  std::vector<ConfigLayer> layers;
  for (const auto& l : list) {
    const auto c = l.value("config", json::object());
    layers.push_back({l.value("class_name", "?"), c.value("name", "?"), c});
  }
  return layers;
}

// Refuses `layer` unless config[key] (or `fallback` when absent: tfjs's default) equals `want`.
void require_setting(const ConfigLayer& layer, const std::string& key, const json& want,
                     const json& fallback) {
  const json got = layer.config.value(key, fallback);
  require(got == want, "layer '" + layer.name + "' (" + layer.class_name + "): " + key + " " +
                           got.dump() + " is not supported (rnn_dist needs " + want.dump() + ")");
}

// The recurrent layer `l` as an rnn_dist layer, after checking its settings. `last`: the layer
// before the Dense head, which returns its last state only.
model::LayerSpec recurrent_spec(const ConfigLayer& l, bool last) {
  static const std::map<std::string, std::string> kType{
      {"SimpleRNN", "simplernn"}, {"LSTM", "lstm"}, {"GRU", "gru"}};
  const auto& type = kType.at(l.class_name);
  require_setting(l, "activation", "tanh", "tanh");
  // tfjs's default recurrent activation is hard_sigmoid; rnn_dist's gates are sigmoid.
  if (type != "simplernn") require_setting(l, "recurrent_activation", "sigmoid", "hard_sigmoid");
  // Both GRUs: reset_after true (Keras's default) and false (tfjs's default and only one).
  const json reset_after = l.config.value("reset_after", json(false));
  if (type == "gru")
    require(reset_after.is_boolean(), "layer '" + l.name + "' (" + l.class_name +
                                          "): reset_after " + reset_after.dump() +
                                          " is not supported (rnn_dist needs true or false)");
  require_setting(l, "use_bias", true, true);
  require_setting(l, "return_sequences", !last, false);
  for (const char* key : {"go_backwards", "stateful", "return_state", "time_major"})
    require_setting(l, key, false, false);
  const auto units = l.config.value("units", 0);
  require(units > 0, "layer '" + l.name + "' (" + l.class_name + "): units must be positive");
  return {type, units, type != "gru" || reset_after.get<bool>()};
}

// What the model of the config is, checking every layer; `maxlen` gets the input length when
// the config states one (0 otherwise).
model::ModelSpec model_spec(const std::vector<ConfigLayer>& all, const std::string& path,
                            int& maxlen) {
  std::vector<ConfigLayer> layers;
  maxlen = 0;
  for (const auto& l : all) {
    const auto shape = l.config.value("batch_input_shape", json::array());
    if (shape.size() == 2 && shape[1].is_number_integer()) maxlen = shape[1].get<int>();
    if (l.class_name != "InputLayer") layers.push_back(l);
  }
  const std::string expected = " (rnn_dist imports Embedding -> SimpleRNN/LSTM/GRU... -> Dense(1, sigmoid))";
  require(layers.size() >= 3 && layers.front().class_name == "Embedding" &&
              layers.back().class_name == "Dense",
          path + ": the model is not Embedding -> recurrent layers -> Dense" + expected);
  model::ModelSpec spec;
  spec.num_words = layers.front().config.value("input_dim", 0);
  spec.embed_dim = layers.front().config.value("output_dim", 0);
  spec.mask_padding = layers.front().config.value("mask_zero", false);
  spec.layers.clear();
  for (std::size_t i = 1; i + 1 < layers.size(); ++i) {
    const auto& l = layers[i];
    require(l.class_name == "SimpleRNN" || l.class_name == "LSTM" || l.class_name == "GRU",
            "layer '" + l.name + "' (" + l.class_name + ") is not supported" + expected);
    spec.layers.push_back(recurrent_spec(l, i + 2 == layers.size()));
  }
  const auto& dense = layers.back();
  require_setting(dense, "units", 1, 0);
  require_setting(dense, "activation", "sigmoid", "linear");
  require_setting(dense, "use_bias", true, true);
  try {
    model::validate(spec);
  } catch (const model::SpecError& e) {
    throw InteropError(path + ": " + e.what());
  }
  return spec;
}

// The float32 values of every weight of the manifest, by name, read from the weight files
// (paths relative to model.json's folder; a group's files are one byte stream).
std::map<std::string, std::pair<Shape, std::vector<float>>> read_weights(const json& model,
                                                                        const std::string& path) {
  require(model.contains("weightsManifest") && model["weightsManifest"].is_array(),
          path + ": 'weightsManifest' is missing");
  const auto folder = std::filesystem::path(path).parent_path();
  std::map<std::string, std::pair<Shape, std::vector<float>>> weights;
  for (const auto& group : model["weightsManifest"]) {
    std::string bytes;
    for (const auto& file : group.value("paths", json::array())) {
      const auto name = (folder / file.get<std::string>()).string();
      std::ifstream in(name, std::ios::binary);
      require(static_cast<bool>(in), path + ": its weights file " + name + " cannot be read");
      bytes.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    std::size_t at = 0;
    for (const auto& w : group.value("weights", json::array())) {
      const auto name = w.value("name", "");
      require(w.value("dtype", "float32") == "float32" && !w.contains("quantization"),
              path + ": weight '" + name + "' is not plain float32 (dtype " +
                  w.value("dtype", "") + (w.contains("quantization") ? ", quantized" : "") + ")");
      const Shape shape = w.value("shape", Shape{});
      std::size_t n = 1;
      for (auto d : shape) n *= static_cast<std::size_t>(d);
      require(at + 4 * n <= bytes.size(), path + ": the weight files end before weight '" + name +
                                              "' (" + std::to_string(bytes.size()) + " bytes)");
      std::vector<float> values(n);
      std::memcpy(values.data(), bytes.data() + at, 4 * n);
      at += 4 * n;
      weights[name] = {shape, std::move(values)};
    }
    require(at == bytes.size(), path + ": the weight files hold " + std::to_string(bytes.size()) +
                                    " bytes, the manifest describes " + std::to_string(at));
  }
  return weights;
}

// The weight of Keras layer `layer` called `what` ("kernel", ...): the manifest name is
// "<layer>/<what>" or, from the Keras converter, "<layer>/<cell>/<what>".
const std::pair<Shape, std::vector<float>>& find_weight(
    const std::map<std::string, std::pair<Shape, std::vector<float>>>& weights,
    const std::string& layer, const std::string& what, const std::string& path) {
  for (const auto& [name, value] : weights)
    if (name.rfind(layer + "/", 0) == 0 && name.size() > what.size() &&
        name.compare(name.size() - what.size() - 1, std::string::npos, "/" + what) == 0)
      return value;
  throw InteropError(path + ": layer '" + layer + "' has no weight '" + what +
                     "' in the weightsManifest");
}

std::string shape_text(const Shape& s) {
  std::string t = "[";
  for (std::size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

}  // namespace

pb::Checkpoint import_tfjs(const std::string& model_json, const std::string& text_pipeline) {
  const json model_file = read_json(model_json);
  const auto layers = sequential_layers(model_file, model_json);
  int maxlen = 0;
  const auto spec = model_spec(layers, model_json, maxlen);
  const auto pipeline = read_text_pipeline(text_pipeline);
  require(spec.num_words == pipeline.num_words,
          model_json + ": its Embedding input_dim " + std::to_string(spec.num_words) +
              " differs from num_words " + std::to_string(pipeline.num_words) + " of " + text_pipeline);
  require(maxlen == 0 || spec.mask_padding || maxlen == pipeline.pipeline.maxlen(),
          model_json + ": its input length " + std::to_string(maxlen) + " differs from maxlen " +
              std::to_string(pipeline.pipeline.maxlen()) + " of " + text_pipeline);
  const auto weights = read_weights(model_file, model_json);

  model::Model net(spec);
  std::vector<std::string> tfjs_names;  // the tfjs layer of each Keras layer, in order
  for (const auto& l : layers)
    if (l.class_name != "InputLayer") tfjs_names.push_back(l.name);
  std::size_t layer = 0;
  std::string current;
  for (const auto& t : net.layout().tensors()) {
    const auto keras_layer = t.name.substr(0, t.name.find('/'));
    if (!current.empty() && keras_layer != current) ++layer;
    current = keras_layer;
    const auto what = t.name.substr(t.name.find('/') + 1);
    const auto& [shape, values] = find_weight(weights, tfjs_names[layer], what, model_json);
    require(shape == t.shape, model_json + ": weight '" + what + "' of layer '" + tfjs_names[layer] +
                                  "' has shape " + shape_text(shape) + ", the model needs " +
                                  shape_text(t.shape));
    std::copy(values.begin(), values.end(), net.params().begin() + static_cast<std::ptrdiff_t>(t.offset));
  }
  const auto optimizer = optim::make_optimizer(optim::OptimizerConfig{}, net.params().size());
  // A run that has not started, with train's defaults (the settings a resume must repeat).
  const train::TrainOptions defaults;
  pb::TrainingState state;
  state.set_seed(defaults.seed);
  state.set_batch_size(defaults.batch_size);
  state.set_validation_split(defaults.validation_split);
  state.set_world_size(1);
  const train::CheckpointContext context{train::to_proto(spec), pipeline.pipeline,
                                         pipeline.vocabulary,
                                         "# imported by rnn_dist import from " + model_json + "\n"};
  return train::make_checkpoint(context, net, *optimizer, state);
}

}  // namespace rnn_dist::interop
