#include "trainer/interop/onnx_export.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include "trainer/interop/keras_layers.h"

namespace rnn_dist::interop {

namespace {

constexpr int kOpset = 14;
constexpr int kIrVersion = 8;  // what ONNX 1.12 (Debian 12's libonnx) writes and checks

// Appends nodes and initializers to a graph, naming every value explicitly.
class GraphBuilder {
 public:
  explicit GraphBuilder(onnx::GraphProto& graph) : graph_(graph) {}

  onnx::NodeProto& node(const std::string& op, std::initializer_list<std::string> inputs,
                        std::initializer_list<std::string> outputs) {
    auto& n = *graph_.add_node();
    n.set_op_type(op);
    n.set_name(op + "_" + std::to_string(graph_.node_size()));
    for (const auto& i : inputs) n.add_input(i);
    for (const auto& o : outputs) n.add_output(o);
    return n;
  }
  // One output named `output`; returns it, so that calls nest as the data flows.
  std::string op(const std::string& op, std::initializer_list<std::string> inputs,
                 const std::string& output) {
    node(op, inputs, {output});
    return output;
  }
  void floats(const std::string& name, const std::vector<std::int64_t>& dims,
              const std::vector<float>& data) {
    auto& t = initializer(name, dims, onnx::TensorProto::FLOAT);
    t.mutable_float_data()->Assign(data.begin(), data.end());
  }
  void int64s(const std::string& name, const std::vector<std::int64_t>& dims,
              const std::vector<std::int64_t>& data) {
    auto& t = initializer(name, dims, onnx::TensorProto::INT64);
    t.mutable_int64_data()->Assign(data.begin(), data.end());
  }

 private:
  onnx::TensorProto& initializer(const std::string& name, const std::vector<std::int64_t>& dims,
                                 onnx::TensorProto::DataType type) {
    auto& t = *graph_.add_initializer();
    t.set_name(name);
    t.set_data_type(type);
    for (auto d : dims) t.add_dims(d);
    return t;
  }
  onnx::GraphProto& graph_;
};

void set_int(onnx::NodeProto& n, const std::string& name, std::int64_t value) {
  auto& a = *n.add_attribute();
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INT);
  a.set_i(value);
}

void set_ints(onnx::NodeProto& n, const std::string& name, std::initializer_list<std::int64_t> v) {
  auto& a = *n.add_attribute();
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INTS);
  for (auto x : v) a.add_ints(x);
}

// A Keras kernel (rows, G*u) row-major as ONNX's [1, G*u, rows]: gate blocks in ONNX's order,
// transposed.
std::vector<float> onnx_weights(const pb::Tensor& kernel, const std::vector<int>& order) {
  const auto keras = reorder_gates(kernel, order);
  const auto rows = static_cast<std::size_t>(kernel.shape(0));
  const auto cols = static_cast<std::size_t>(kernel.shape(1));
  std::vector<float> out(keras.size());
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t k = 0; k < cols; ++k) out[k * rows + r] = keras[r * cols + k];
  return out;
}

// ONNX's B [1, 2*G*u] (input bias Wb, then recurrent bias Rb) from the Keras bias: GRU's (2, G*u)
// rows are exactly those; the single (G*u) bias of LSTM and SimpleRNN is Wb, with Rb zero.
std::vector<float> onnx_bias(const pb::Tensor& bias, const std::vector<int>& order) {
  auto out = reorder_gates(bias, order);
  if (bias.shape_size() == 1) out.resize(2 * out.size(), 0.0f);
  return out;
}

void set_io(onnx::ValueInfoProto& v, const std::string& name, onnx::TensorProto::DataType type,
            const std::string& batch, std::int64_t second, const std::string& second_name) {
  v.set_name(name);
  auto& t = *v.mutable_type()->mutable_tensor_type();
  t.set_elem_type(type);
  t.mutable_shape()->add_dim()->set_dim_param(batch);
  auto& d = *t.mutable_shape()->add_dim();
  if (second_name.empty()) d.set_dim_value(second);
  else d.set_dim_param(second_name);
}

// Masked models: the ids with each row's real ids moved to its front ('pre' padding; 'post'
// already has them there), and each row's length as sequence_lens wants it (int32 [batch]).
// For 'pre': row b of length L_b takes its step t from step (t + T - L_b) mod T.
std::pair<std::string, std::string> leading_ids(GraphBuilder& g, bool pre_padding) {
  g.int64s("zero", {}, {0});
  g.int64s("axis_1", {1}, {1});
  const auto is_pad = g.op("Equal", {"token_ids", "zero"}, "is_pad");
  auto& real = g.node("Cast", {g.op("Not", {is_pad}, "is_real")}, {"is_real_i64"});
  set_int(real, "to", onnx::TensorProto::INT64);
  auto& lengths = g.node("ReduceSum", {"is_real_i64", "axis_1"}, {"lengths"});  // [batch, 1]
  set_int(lengths, "keepdims", 1);
  auto& lens32 = g.node("Cast", {g.op("Squeeze", {"lengths", "axis_1"}, "lengths_1d")},
                        {"sequence_lens"});
  set_int(lens32, "to", onnx::TensorProto::INT32);
  if (!pre_padding) return {"token_ids", "sequence_lens"};
  g.int64s("one", {}, {1});
  auto& T = g.node("Gather", {g.op("Shape", {"token_ids"}, "ids_shape"), "one"}, {"T"});
  set_int(T, "axis", 0);
  const auto steps = g.op("Range", {"zero", "T", "one"}, "steps");        // [T]
  const auto shift = g.op("Sub", {"T", "lengths"}, "pad_lengths");        // [batch, 1]
  const auto from = g.op("Mod", {g.op("Add", {steps, shift}, "shifted"), "T"}, "source_steps");
  auto& moved = g.node("GatherElements", {"token_ids", from}, {"leading_ids"});
  set_int(moved, "axis", 1);
  return {"leading_ids", "sequence_lens"};
}

// One recurrent layer: X [T, batch, n] -> Y [T, 1, batch, u] and Y_h [1, batch, u]. Returns the
// names of Y and Y_h.
std::pair<std::string, std::string> recurrent(GraphBuilder& g, const KerasLayer& layer,
                                              const std::string& x, const std::string& lens) {
  static const std::map<std::string, std::string> kOp{
      {"lstm", "LSTM"}, {"gru", "GRU"}, {"simplernn", "RNN"}};
  const auto order = gate_order(layer.type, GateTarget::kOnnx);
  const auto& kernel = *layer.tensors[0];
  const auto& recurrent_kernel = *layer.tensors[1];
  const std::int64_t G = gate_count(layer.type), u = layer.units;
  const auto W = layer.name + "_W", R = layer.name + "_R", B = layer.name + "_B";
  g.floats(W, {1, G * u, kernel.shape(0)}, onnx_weights(kernel, order));
  g.floats(R, {1, G * u, u}, onnx_weights(recurrent_kernel, order));
  g.floats(B, {1, 2 * G * u}, onnx_bias(*layer.tensors[2], order));
  const auto Y = layer.name + "_Y", Yh = layer.name + "_Y_h";
  auto& n = g.node(kOp.at(layer.type), {x, W, R, B, lens}, {Y, Yh});
  set_int(n, "hidden_size", u);
  // Keras's GRU reset_after applies the reset gate after the recurrent product, bias included:
  // n = tanh(W_h x + b_ih + r * (U_h h + b_rh)), which is ONNX's linear_before_reset = 1;
  // reset_after=False, n = tanh(W_h x + b + U_h (r * h)), is linear_before_reset = 0 (its one
  // bias row goes to Wb, Rb zero).
  if (layer.type == "gru") set_int(n, "linear_before_reset", layer.reset_after ? 1 : 0);
  return {Y, Yh};
}

void build_graph(onnx::GraphProto& graph, const pb::Checkpoint& c) {
  GraphBuilder g(graph);
  const auto layers = keras_layers(c);
  const bool masked = c.model().mask_padding();
  std::string ids = "token_ids", lens;
  if (masked) std::tie(ids, lens) = leading_ids(g, c.pipeline().padding() == "pre");
  const auto& embeddings = *layers.front().tensors[0];
  g.floats("embeddings", {embeddings.shape(0), embeddings.shape(1)},
           {embeddings.data().begin(), embeddings.data().end()});
  g.int64s("axis_0", {1}, {0});
  if (layers.size() > 3) g.int64s("axis_1d", {1}, {1});  // stacked: Squeeze between the layers
  auto& time_major = g.node("Transpose", {g.op("Gather", {"embeddings", ids}, "embedded")},
                            {"embedded_tm"});
  set_ints(time_major, "perm", {1, 0, 2});
  std::string x = "embedded_tm", h;
  for (std::size_t i = 1; i + 1 < layers.size(); ++i) {
    const auto [Y, Yh] = recurrent(g, layers[i], x, lens);
    if (i + 2 < layers.size()) x = g.op("Squeeze", {Y, "axis_1d"}, layers[i].name + "_out");
    h = Yh;  // [1, batch, u]
  }
  const auto& dense = layers.back();
  g.floats("dense_kernel", {dense.tensors[0]->shape(0), 1},
           {dense.tensors[0]->data().begin(), dense.tensors[0]->data().end()});
  g.floats("dense_bias", {1}, {dense.tensors[1]->data().begin(), dense.tensors[1]->data().end()});
  const auto last = g.op("Squeeze", {h, "axis_0"}, "last_state");  // [batch, u]
  g.op("Sigmoid", {g.op("Gemm", {last, "dense_kernel", "dense_bias"}, "logit")}, "probability");
  set_io(*graph.add_input(), "token_ids", onnx::TensorProto::INT64, "batch",
         c.pipeline().maxlen(), masked ? "T" : "");
  set_io(*graph.add_output(), "probability", onnx::TensorProto::FLOAT, "batch", 1, "");
}

void add_metadata(onnx::ModelProto& m, const std::string& key, const std::string& value) {
  auto& p = *m.add_metadata_props();
  p.set_key(key);
  p.set_value(value);
}

}  // namespace

std::string onnx_model_bytes(const pb::Checkpoint& c) {
  onnx::ModelProto model;
  model.set_ir_version(kIrVersion);
  model.set_producer_name("rnn_dist");
  model.set_producer_version(RNN_DIST_VERSION);
  auto& opset = *model.add_opset_import();
  opset.set_domain("");
  opset.set_version(kOpset);
  model.set_doc_string("Keras IMDB classifier exported by rnn_dist: token_ids int64 [batch, T] "
                       "(capped, truncated and padded as the text pipeline JSON says) -> "
                       "probability [batch, 1]");
  auto& graph = *model.mutable_graph();
  graph.set_name("rnn_dist");
  build_graph(graph, c);
  add_metadata(model, "num_words", std::to_string(c.model().num_words()));
  add_metadata(model, "maxlen", std::to_string(c.pipeline().maxlen()));
  add_metadata(model, "padding", c.pipeline().padding());
  add_metadata(model, "truncating", c.pipeline().truncating());
  add_metadata(model, "mask_padding", c.model().mask_padding() ? "true" : "false");
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    throw InteropError(std::string("the ONNX checker refused the exported graph: ") + e.what());
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) throw InteropError("cannot serialise the ONNX model");
  return bytes;
}

}  // namespace rnn_dist::interop
