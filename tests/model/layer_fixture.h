// Small helpers for recurrent-layer tests: build a layer with its own parameter buffer, random
// inputs and the standard masks.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "trainer/model/gru.h"
#include "trainer/model/gru_reset_before.h"
#include "trainer/model/init.h"
#include "trainer/model/lstm.h"
#include "trainer/model/simple_rnn.h"

namespace rnn_dist::model::testing {

enum class Kind { kSimpleRnn, kLstm, kGru, kGruResetBefore };
// Every cell, for the tests that run each of them.
inline constexpr Kind kAllKinds[] = {Kind::kSimpleRnn, Kind::kLstm, Kind::kGru,
                                     Kind::kGruResetBefore};

inline const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kSimpleRnn: return "SimpleRnn";
    case Kind::kLstm: return "Lstm";
    case Kind::kGru: return "Gru";
    case Kind::kGruResetBefore: return "GruResetBefore";
  }
  return "?";
}

// Gate blocks of a cell: LSTM 4, both GRUs 3, SimpleRNN 1.
inline int gate_count(Kind k) {
  return k == Kind::kLstm ? 4 : (k == Kind::kGru || k == Kind::kGruResetBefore) ? 3 : 1;
}

inline std::unique_ptr<RecurrentLayer> make_layer(Kind k, int n, int u, bool return_sequences) {
  switch (k) {
    case Kind::kSimpleRnn: return std::make_unique<SimpleRnn>(n, u, return_sequences);
    case Kind::kLstm: return std::make_unique<Lstm>(n, u, return_sequences);
    case Kind::kGru: return std::make_unique<Gru>(n, u, return_sequences);
    case Kind::kGruResetBefore: return std::make_unique<GruResetBefore>(n, u, return_sequences);
  }
  return nullptr;
}

// A layer stack with one flat parameter buffer and its gradient mirror.
struct Net {
  ParameterLayout layout;
  std::vector<std::unique_ptr<RecurrentLayer>> layers;
  std::vector<float> params, grads;

  void add(std::unique_ptr<RecurrentLayer> layer, const std::string& name) {
    layer->declare(layout, name);
    layers.push_back(std::move(layer));
  }
  // Keras init, then (if jitter > 0) every parameter moved by U(-jitter, jitter) so that biases
  // are non-zero and nothing is special.
  void init(std::uint64_t seed, float jitter) {
    params.assign(layout.buffer_size(), 0.0f);
    grads.assign(layout.buffer_size(), 0.0f);
    std::mt19937_64 rng(seed);
    for (auto& l : layers) l->init(params, rng);
    if (jitter > 0)
      for (const auto& t : layout.tensors())
        for (std::size_t i = 0; i < t.size; ++i)
          params[t.offset + i] += jitter * (2.0f * uniform01(rng) - 1.0f);
  }
};

inline Matrix random_matrix(Eigen::Index rows, Eigen::Index cols, std::mt19937_64& rng,
                            float scale = 1.0f) {
  Matrix m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = scale * (2.0f * uniform01(rng) - 1.0f);
  return m;
}

// mask[t*B + b] from per-example strings of '0'/'1' (one character per step).
inline std::vector<std::uint8_t> make_mask(const std::vector<std::string>& rows) {
  const int B = static_cast<int>(rows.size()), T = static_cast<int>(rows[0].size());
  std::vector<std::uint8_t> m(std::size_t(T) * B);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) m[std::size_t(t) * B + b] = rows[b][t] == '1';
  return m;
}

}  // namespace rnn_dist::model::testing
