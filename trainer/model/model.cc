#include "trainer/model/model.h"

#include <algorithm>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>

#include "trainer/model/gru.h"
#include "trainer/model/gru_reset_before.h"
#include "trainer/model/lstm.h"
#include "trainer/model/simple_rnn.h"

namespace rnn_dist::model {

namespace {

std::unique_ptr<RecurrentLayer> make_layer(const LayerSpec& l, int input_dim, bool return_seq) {
  if (l.type == "lstm") return std::make_unique<Lstm>(input_dim, l.units, return_seq);
  if (l.type == "gru" && !l.reset_after)
    return std::make_unique<GruResetBefore>(input_dim, l.units, return_seq);
  if (l.type == "gru") return std::make_unique<Gru>(input_dim, l.units, return_seq);
  if (l.type == "simplernn") return std::make_unique<SimpleRnn>(input_dim, l.units, return_seq);
  throw SpecError("unknown layer type '" + l.type + "'");
}

// A (rows, cols) view of `buf`, growing it when needed (never shrinking, so steady-state batches
// allocate nothing).
MatrixMap view(std::vector<float>& buf, Eigen::Index rows, Eigen::Index cols) {
  const auto need = static_cast<std::size_t>(rows * cols);
  if (buf.size() < need) buf.resize(need);
  return MatrixMap(buf.data(), rows, cols);
}

// Keras names the n-th layer of a type "lstm", "lstm_1", "lstm_2", ...
std::string keras_name(const std::string& base, std::vector<std::pair<std::string, int>>& seen) {
  for (auto& [name, count] : seen)
    if (name == base) return base + "_" + std::to_string(count++);
  seen.emplace_back(base, 1);
  return base;
}

}  // namespace

Model::Model(const ModelSpec& spec)
    : spec_(spec),
      embedding_(spec.num_words, spec.embed_dim),
      head_(spec.layers.empty() ? 1 : spec.layers.back().units, 1) {
  validate(spec_);
  std::vector<std::pair<std::string, int>> seen;
  embedding_.declare(layout_, keras_name("embedding", seen));
  int input_dim = spec_.embed_dim;
  for (std::size_t i = 0; i < spec_.layers.size(); ++i) {
    const bool last = i + 1 == spec_.layers.size();
    recurrent_.push_back(make_layer(spec_.layers[i], input_dim, !last));
    // Keras's layer names: simple_rnn, lstm, gru (then _1, _2, ... for repeats).
    const auto& type = spec_.layers[i].type;
    recurrent_.back()->declare(layout_, keras_name(type == "simplernn" ? "simple_rnn" : type, seen));
    input_dim = spec_.layers[i].units;
  }
  head_.declare(layout_, keras_name("dense", seen));
  params_.assign(layout_.buffer_size(), 0.0f);
  grads_.assign(layout_.buffer_size(), 0.0f);
  acts_.resize(recurrent_.size() + 1);
}

Model::~Model() = default;

void Model::init(std::uint64_t seed) {
  std::fill(params_.begin(), params_.end(), 0.0f);
  std::mt19937_64 rng(seed);
  embedding_.init(params_, rng);
  for (auto& layer : recurrent_) layer->init(params_, rng);
  head_.init(params_, rng);
}

void Model::zero_grads() { std::fill(grads_.begin(), grads_.end(), 0.0f); }

void Model::pack(std::span<const std::int32_t> tokens, int T, int B) {
  // first_real_[b]: the step of example b's first non-zero token (T if it has none).
  first_real_.assign(static_cast<std::size_t>(B), T);
  for (int t = T - 1; t >= 0; --t)
    for (int b = 0; b < B; ++b)
      if (tokens[static_cast<std::size_t>(t) * B + b] != 0) first_real_[b] = t;
  // Counting sort by that step (stable, so equal starts keep their batch order).
  count_.assign(static_cast<std::size_t>(T) + 2, 0);
  for (int b = 0; b < B; ++b) ++count_[first_real_[b] + 1];
  for (int t = 0; t <= T; ++t) count_[t + 1] += count_[t];  // count_[t]: examples starting < t
  order_.resize(static_cast<std::size_t>(B));
  for (int b = 0; b < B; ++b) order_[count_[first_real_[b]]++] = b;  // count_[t] now: starting <= t
  // Step t runs the examples started by then (count_[t]), plus the shared all-padding column
  // while some example has not started (recurrent.h).
  tokens_.clear();
  for (int t = 0; t < T; ++t) {
    const int started = count_[t];
    const std::int32_t* row = tokens.data() + static_cast<std::size_t>(t) * B;
    for (int j = 0; j < started; ++j) tokens_.push_back(row[order_[j]]);
    if (started < B) tokens_.push_back(0);
  }
  batch_layout_.set_shared_prefix(T, B, std::span<const int>(count_.data(), static_cast<std::size_t>(T)));
}

void Model::forward(std::span<const std::int32_t> tokens, int T, int B, std::span<float> logits) {
  if (T < 1 || B < 1 || tokens.size() != static_cast<std::size_t>(T) * B ||
      logits.size() != static_cast<std::size_t>(B))
    throw std::invalid_argument("Model::forward: " + std::to_string(tokens.size()) + " tokens and " +
                                std::to_string(logits.size()) + " logits for T " +
                                std::to_string(T) + ", B " + std::to_string(B));
  T_ = T;
  B_ = B;
  const std::uint8_t* mask = nullptr;
  if (packing_ && !spec_.mask_padding) {
    pack(tokens, T, B);
  } else {
    batch_layout_.set_full(T, B);
    tokens_.assign(tokens.begin(), tokens.end());
    order_.resize(static_cast<std::size_t>(B));
    for (int b = 0; b < B; ++b) order_[b] = b;
    if (spec_.mask_padding) {
      mask_.resize(tokens_.size());
      for (std::size_t j = 0; j < tokens_.size(); ++j) mask_[j] = tokens_[j] != 0;
      mask = mask_.data();
    }
  }
  const Eigen::Index n = batch_layout_.columns();
  MatrixMap x = view(acts_[0], spec_.embed_dim, n);
  embedding_.forward(params_.data(), tokens_, x);
  for (std::size_t i = 0; i < recurrent_.size(); ++i) {
    auto& layer = *recurrent_[i];
    MatrixMap in(acts_[i].data(), layer.input_dim(), n);
    MatrixMap out = view(acts_[i + 1], layer.units(), layer.return_sequences() ? n : B);
    layer.forward_packed(params_.data(), in, batch_layout_, mask, out);
  }
  MatrixMap last(acts_.back().data(), recurrent_.back()->units(), B);
  logits_.resize(static_cast<std::size_t>(B));
  Eigen::Map<Eigen::RowVectorXf> out(logits_.data(), B);
  head_.forward(params_.data(), last, out);
  for (int j = 0; j < B; ++j) logits[order_[j]] = logits_[j];
}

void Model::backward(std::span<const float> dlogits) {
  const Eigen::Index n = batch_layout_.columns();
  dlogits_.resize(static_cast<std::size_t>(B_));
  for (int j = 0; j < B_; ++j) dlogits_[j] = dlogits[order_[j]];
  Eigen::Map<const Eigen::RowVectorXf> dy(dlogits_.data(), B_);
  const int top = recurrent_.back()->units();
  MatrixMap last(acts_.back().data(), top, B_);
  MatrixMap d = view(dbuf_[0], top, B_);
  head_.backward(params_.data(), grads_.data(), last, dy, d);
  int cur = 0;
  for (std::size_t k = recurrent_.size(); k-- > 0;) {
    auto& layer = *recurrent_[k];
    const Eigen::Index dy_cols = layer.return_sequences() ? n : B_;
    MatrixMap dy_layer(dbuf_[cur].data(), layer.units(), dy_cols);
    MatrixMap dx = view(dbuf_[1 - cur], layer.input_dim(), n);
    layer.backward(params_.data(), grads_.data(), dy_layer, dx);
    cur = 1 - cur;
  }
  MatrixMap dembed(dbuf_[cur].data(), spec_.embed_dim, n);
  embedding_.backward(grads_.data(), tokens_, dembed, spec_.mask_padding ? 0 : -1);
}

std::string Model::summary() const {
  struct Row {
    std::string name, shape;
    std::size_t params;
  };
  std::vector<Row> rows;
  const auto& tensors = layout_.tensors();
  auto count_prefix = [&](const std::string& prefix) {
    std::size_t n = 0;
    for (const auto& t : tensors)
      if (t.name.rfind(prefix + "/", 0) == 0) n += t.size;
    return n;
  };
  // The layers' names in declaration order, from the layout ("lstm/kernel" -> "lstm"): the
  // embedding, the recurrent layers, the head, however many tensors each has.
  std::vector<std::string> names;
  for (const auto& t : tensors) {
    const std::string layer = t.name.substr(0, t.name.find('/'));
    if (names.empty() || names.back() != layer) names.push_back(layer);
  }
  if (names.size() != recurrent_.size() + 2)
    throw std::logic_error("Model::summary: " + std::to_string(names.size()) + " layers in the layout");
  rows.push_back({names.front() + " (Embedding)",
                  "(None, None, " + std::to_string(spec_.embed_dim) + ")", count_prefix(names.front())});
  for (std::size_t i = 0; i < recurrent_.size(); ++i) {
    const auto& layer = *recurrent_[i];
    const std::string shape = layer.return_sequences()
                                  ? "(None, None, " + std::to_string(layer.units()) + ")"
                                  : "(None, " + std::to_string(layer.units()) + ")";
    rows.push_back({names[i + 1] + " (" + layer.type_name() + ")", shape, count_prefix(names[i + 1])});
  }
  rows.push_back({names.back() + " (Dense)", "(None, 1)", count_prefix(names.back())});

  // 328353 -> "328,353", built from the right so no insertion into the middle is needed.
  auto with_commas = [](std::size_t v) {
    std::string reversed;
    for (int digits = 0; digits == 0 || v > 0; ++digits, v /= 10) {
      if (digits > 0 && digits % 3 == 0) reversed += ',';
      reversed += static_cast<char>('0' + v % 10);
    }
    return std::string(reversed.rbegin(), reversed.rend());
  };
  std::string out;
  char line[160];
  const std::string rule(65, '_'), double_rule(65, '=');
  out += rule + "\n";
  std::snprintf(line, sizeof line, "%-29s%-26s%10s\n", "Layer (type)", "Output Shape", "Param #");
  out += line + double_rule + "\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::snprintf(line, sizeof line, "%-29s%-26s%10s\n", rows[i].name.c_str(),
                  rows[i].shape.c_str(), with_commas(rows[i].params).c_str());
    out += line;
    out += (i + 1 == rows.size() ? double_rule : rule) + "\n";
  }
  const std::size_t total = layout_.parameter_count();
  out += "Total params: " + with_commas(total) + " (" + std::to_string(total * 4 / 1024) + " KB)\n";
  out += "Trainable params: " + with_commas(total) + "\n";
  out += "Non-trainable params: 0\n";
  return out;
}

}  // namespace rnn_dist::model
