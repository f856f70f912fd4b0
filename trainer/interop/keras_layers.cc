#include "trainer/interop/keras_layers.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace rnn_dist::interop {

namespace {

// The layer a tensor belongs to: its name up to the '/' ("lstm_1/kernel" -> "lstm_1").
std::string layer_of(const pb::Tensor& t) { return t.name().substr(0, t.name().find('/')); }

// A layer of `type` made of the next `count` tensors of `c`, from index `next` on.
KerasLayer take_layer(const pb::Checkpoint& c, int& next, int count, std::string type, int units) {
  KerasLayer layer{layer_of(c.parameters(next)), std::move(type), units, {}};
  for (int i = 0; i < count; ++i) layer.tensors.push_back(&c.parameters(next++));
  return layer;
}

}  // namespace

std::vector<KerasLayer> keras_layers(const pb::Checkpoint& c) {
  std::vector<KerasLayer> layers;
  int next = 0;
  layers.push_back(take_layer(c, next, 1, "embedding", c.model().embed_dim()));
  for (const auto& l : c.model().layers()) {
    layers.push_back(take_layer(c, next, 3, l.type(), l.units()));
    layers.back().reset_after = !l.reset_before();
  }
  layers.push_back(take_layer(c, next, 2, "dense", 1));
  return layers;
}

int gate_count(const std::string& type) {
  if (type == "lstm") return 4;
  if (type == "gru") return 3;
  return 1;
}

std::vector<int> gate_order(const std::string& type, GateTarget target) {
  std::vector<int> order;
  if (type == "lstm" && target == GateTarget::kOnnx) order = {0, 3, 1, 2};  // i,o,f,c <- i,f,c,o
  else
    for (int g = 0; g < gate_count(type); ++g) order.push_back(g);
  const char* wrong = std::getenv("RNN_DIST_EXPORT_WRONG_GATES");
  if (wrong && std::strcmp(wrong, "1") == 0 && order.size() > 1) std::swap(order[0], order[1]);
  return order;
}

std::vector<float> reorder_gates(const pb::Tensor& t, const std::vector<int>& order) {
  const std::size_t cols = static_cast<std::size_t>(t.shape(t.shape_size() - 1));
  const std::size_t u = cols / order.size(), rows = static_cast<std::size_t>(t.data_size()) / cols;
  std::vector<float> out(static_cast<std::size_t>(t.data_size()));
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t g = 0; g < order.size(); ++g)
      for (std::size_t j = 0; j < u; ++j)
        out[r * cols + g * u + j] = t.data(static_cast<int>(r * cols + order[g] * u + j));
  return out;
}

}  // namespace rnn_dist::interop
