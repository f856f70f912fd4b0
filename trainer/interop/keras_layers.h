// A checkpoint seen as the Keras Sequential model it is (Embedding -> SimpleRNN/LSTM/GRU stack ->
// Dense(1, sigmoid)): its layers with their Keras names and tensors, what the exporters write and
// the importer rebuilds; plus the gate orders of the formats.
//
// Tensors keep rnn_dist's layout, which is Keras's (model/tensor.h): a kernel of shape (in, G*u)
// row-major, the G gate blocks of u columns side by side (LSTM i,f,c,o; GRU z,r,h; SimpleRNN one
// block); the GRU bias (2, 3u) holds the input bias then the recurrent bias (reset_after), or
// is one (3u) row (reset_after=False).
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "rnn_dist.pb.h"

namespace rnn_dist::interop {

// A file that cannot be exported or imported (unsupported model, damaged input, write failure).
// The message is one line naming the file, layer or setting at fault; the exit status is 1.
class InteropError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct KerasLayer {
  std::string name;  // Keras's layer name: "embedding", "lstm", "lstm_1", "dense", ...
  std::string type;  // "embedding", "simplernn", "lstm", "gru" or "dense"
  int units = 0;     // output width (the embedding's dim for "embedding")
  std::vector<const pb::Tensor*> tensors;  // in checkpoint order: kernel, recurrent_kernel, bias
  bool reset_after = true;  // GRU: Keras's reset_after (false: model/gru_reset_before.h)
};

// The layers of checkpoint `c` in order. REQUIRES: the checkpoint was validated (its tensors
// restore into a model of its spec, as cli/use_model.h's load_model checks).
std::vector<KerasLayer> keras_layers(const pb::Checkpoint& c);

// Gate blocks of a recurrent layer type: LSTM 4, GRU 3, SimpleRNN 1.
int gate_count(const std::string& type);

// Which Keras gate block goes to each position of ONNX's gate order (LSTM i,o,f,c from Keras's
// i,f,c,o; GRU z,r,h as in Keras), or of Keras's own order (kKeras: the identity).
// Test only: RNN_DIST_EXPORT_WRONG_GATES=1 swaps the first two blocks, so that the tests can
// show that a wrong gate order fails their comparison (the negative control).
enum class GateTarget { kOnnx, kKeras };
std::vector<int> gate_order(const std::string& type, GateTarget target);

// The values of `t`, a (rows, G*u) row-major matrix or a (G*u) vector, with its G = order.size()
// gate blocks of u columns reordered: block g of the result is block order[g] of `t`.
std::vector<float> reorder_gates(const pb::Tensor& t, const std::vector<int>& order);

}  // namespace rnn_dist::interop
