#include "trainer/model/parameters.h"

#include <cstring>
#include <stdexcept>

namespace rnn_dist::model {

namespace {
constexpr std::size_t kAlignFloats = 16;
}

std::size_t ParameterLayout::add(const std::string& name, std::vector<std::int64_t> shape) {
  std::size_t size = 1;
  for (auto d : shape) {
    if (d <= 0) throw std::invalid_argument("parameter tensor '" + name + "' has a non-positive dimension");
    size *= static_cast<std::size_t>(d);
  }
  const std::size_t offset = (buffer_size_ + kAlignFloats - 1) / kAlignFloats * kAlignFloats;
  tensors_.push_back(TensorInfo{name, std::move(shape), offset, size});
  buffer_size_ = offset + size;
  return offset;
}

std::size_t ParameterLayout::parameter_count() const {
  std::size_t n = 0;
  for (const auto& t : tensors_) n += t.size;
  return n;
}

const TensorInfo& ParameterLayout::find(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return t;
  throw std::out_of_range("no parameter tensor named '" + name + "'");
}

std::uint64_t hash_floats(std::span<const float> data) {
  std::uint64_t h = 1469598103934665603ull;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  for (std::size_t i = 0; i < data.size_bytes(); ++i) {
    h ^= bytes[i];
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace rnn_dist::model
