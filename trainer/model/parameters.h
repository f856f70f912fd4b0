// One contiguous float buffer for all parameters of a model, a mirror buffer for gradients, and a
// table of named tensors (name, Keras shape, offset) into them. Layers declare their tensors once
// and keep the offsets; the all-reduce, the optimizer step, the checkpoint and the replica hash
// each see the whole model as one span.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace rnn_dist::model {

struct TensorInfo {
  std::string name;               // e.g. "lstm/kernel"
  std::vector<std::int64_t> shape;  // Keras shape, e.g. {32, 128}
  std::size_t offset = 0;         // in floats from the start of the buffer
  std::size_t size = 0;           // product of shape
};

class ParameterLayout {
 public:
  // Appends a tensor and returns its offset. Offsets are aligned to 16 floats (64 bytes) so that
  // every tensor starts on a cache line; the padding floats stay zero.
  std::size_t add(const std::string& name, std::vector<std::int64_t> shape);
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  // Floats in the buffer (including alignment padding).
  std::size_t buffer_size() const { return buffer_size_; }
  // Trainable parameters (excluding padding): what Keras's summary calls "Total params".
  std::size_t parameter_count() const;
  const TensorInfo& find(const std::string& name) const;  // throws if missing

 private:
  std::vector<TensorInfo> tensors_;
  std::size_t buffer_size_ = 0;
};

// 64-bit FNV-1a over the bytes of a float span: a cheap fingerprint to compare replicas.
std::uint64_t hash_floats(std::span<const float> data);

}  // namespace rnn_dist::model
