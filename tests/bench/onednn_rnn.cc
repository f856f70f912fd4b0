#include "tests/bench/onednn_rnn.h"

#include <cstring>
#include <unordered_map>

namespace rnn_dist::bench {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;
constexpr auto kDir = dnnl::rnn_direction::unidirectional_left2right;

float* data_of(const memory& m) { return static_cast<float*>(m.get_data_handle()); }

void zero(const memory& m) { std::memset(m.get_data_handle(), 0, m.get_desc().get_size()); }

}  // namespace

OnednnRnn::Weights OnednnRnn::make_weights(const memory& user, const memory::desc& want,
                                           const dnnl::engine& engine, bool to_user) {
  Weights w;
  w.user = user;
  if (want == user.get_desc()) {
    w.prim = user;
    return w;
  }
  w.same = false;
  w.prim = memory(want, engine);
  w.reorder = to_user ? dnnl::reorder(w.prim, w.user) : dnnl::reorder(w.user, w.prim);
  return w;
}

OnednnRnn::OnednnRnn(Kind kind, int T, int B, int input_dim, int units, const dnnl::engine& engine,
                     bool explicit_initial_state)
    : kind_(kind), T_(T), B_(B), n_(input_dim), u_(units), G_(model::testing::gate_count(kind)) {
  const memory::dim t = T, b = B, n = input_dim, u = units, g = G_;
  const memory::dim gb = kind == Kind::kGru ? g + 1 : g;  // lbr_gru: one more bias row
  const memory::desc src_layer({t, b, n}, dt::f32, tag::tnc);
  const memory::desc dst_layer({t, b, u}, dt::f32, tag::tnc);
  const memory::desc state({1, 1, b, u}, dt::f32, tag::ldnc);
  const memory::desc wl_user({1, 1, n, g, u}, dt::f32, tag::ldigo);
  const memory::desc wi_user({1, 1, u, g, u}, dt::f32, tag::ldigo);
  const memory::desc wl_any({1, 1, n, g, u}, dt::f32, tag::any);
  const memory::desc wi_any({1, 1, u, g, u}, dt::f32, tag::any);
  const memory::desc bias({1, 1, gb, u}, dt::f32, tag::ldgo);
  const memory::desc none;
  const memory::desc iter = explicit_initial_state ? state : none;
  const memory::desc iter_c = kind == Kind::kLstm ? iter : none;
  const auto fwd = dnnl::prop_kind::forward_training;
  const auto bwd = dnnl::prop_kind::backward;
  // The two GRUs' primitives take the same arguments (the primitive types passed as tags).
  auto gru_pds = [&](auto forward, auto backward) {
    using Forward = decltype(forward);
    using Backward = decltype(backward);
    typename Forward::primitive_desc f(
        {fwd, kDir, src_layer, iter, wl_any, wi_any, bias, dst_layer, none}, engine);
    typename Backward::primitive_desc bk(
        {bwd, kDir, src_layer, iter, wl_any, wi_any, bias, dst_layer, none, src_layer, iter,
         wl_any, wi_any, bias, dst_layer, none},
        engine, f);
    fwd_pd_ = f;
    bwd_pd_ = bk;
  };

  switch (kind) {
    case Kind::kLstm: {
      dnnl::lstm_forward::primitive_desc f(
          {fwd, kDir, src_layer, iter, iter_c, wl_any, wi_any, bias, dst_layer, none, none},
          engine);
      dnnl::lstm_backward::primitive_desc bk(
          {bwd,  kDir,      src_layer, iter,   iter_c, wl_any, wi_any, bias,      dst_layer, none,
           none, src_layer, iter,      iter_c, wl_any, wi_any, bias,   dst_layer, none,      none},
          engine, f);
      fwd_pd_ = f;
      bwd_pd_ = bk;
      break;
    }
    case Kind::kGru:
      gru_pds(dnnl::lbr_gru_forward{}, dnnl::lbr_gru_backward{});
      break;
    case Kind::kGruResetBefore:
      gru_pds(dnnl::gru_forward{}, dnnl::gru_backward{});
      break;
    case Kind::kSimpleRnn: {
      const auto tanh = dnnl::algorithm::eltwise_tanh;
      dnnl::vanilla_rnn_forward::primitive_desc f(
          {fwd, tanh, kDir, src_layer, iter, wl_any, wi_any, bias, dst_layer, none}, engine);
      dnnl::vanilla_rnn_backward::primitive_desc bk(
          {bwd, tanh, kDir, src_layer, iter, wl_any, wi_any, bias, dst_layer, none, src_layer, iter,
           wl_any, wi_any, bias, dst_layer, none},
          engine, f);
      fwd_pd_ = f;
      bwd_pd_ = bk;
      break;
    }
  }
  fwd_ = dnnl::primitive(fwd_pd_);
  bwd_ = dnnl::primitive(bwd_pd_);

  src_layer_ = memory(src_layer, engine);
  dst_layer_ = memory(dst_layer, engine);
  diff_src_layer_ = memory(src_layer, engine);
  diff_dst_layer_ = memory(dst_layer, engine);
  zero(diff_dst_layer_);
  if (explicit_initial_state) {
    src_iter_ = memory(state, engine);
    diff_src_iter_ = memory(state, engine);
    zero(src_iter_);
    if (kind == Kind::kLstm) {
      src_iter_c_ = memory(state, engine);
      diff_src_iter_c_ = memory(state, engine);
      zero(src_iter_c_);
    }
  }
  bias_ = memory(bias, engine);
  diff_bias_ = memory(bias, engine);
  workspace_ = memory(fwd_pd_.workspace_desc(), engine);
  wl_user_ = memory(wl_user, engine);
  wi_user_ = memory(wi_user, engine);
  dwl_user_ = memory(wl_user, engine);
  dwi_user_ = memory(wi_user, engine);
  fwd_wl_ = make_weights(wl_user_, fwd_pd_.weights_layer_desc(), engine, false);
  fwd_wi_ = make_weights(wi_user_, fwd_pd_.weights_iter_desc(), engine, false);
  bwd_wl_ = make_weights(wl_user_, bwd_pd_.weights_layer_desc(), engine, false);
  bwd_wi_ = make_weights(wi_user_, bwd_pd_.weights_iter_desc(), engine, false);
  dwl_ = make_weights(dwl_user_, bwd_pd_.diff_weights_layer_desc(), engine, true);
  dwi_ = make_weights(dwi_user_, bwd_pd_.diff_weights_iter_desc(), engine, true);
}

void OnednnRnn::set_weights(const float* params, const model::ParameterLayout& layout,
                            const std::string& name) {
  const std::size_t gu = std::size_t(G_) * u_;
  const float* kernel = params + layout.find(name + "/kernel").offset;
  const float* rec = params + layout.find(name + "/recurrent_kernel").offset;
  const float* b = params + layout.find(name + "/bias").offset;
  // Keras (in, G*u) row-major is ldigo with the same gate order: a plain copy.
  std::memcpy(data_of(wl_user_), kernel, sizeof(float) * std::size_t(n_) * gu);
  std::memcpy(data_of(wi_user_), rec, sizeof(float) * std::size_t(u_) * gu);
  float* bias = data_of(bias_);
  if (kind_ != Kind::kGru) {
    std::memcpy(bias, b, sizeof(float) * gu);
    return;
  }
  // Keras bias (2, 3u): b_in = b[0:3u], b_rec = b[3u:6u]. oneDNN (4, u): u and r gates take
  // b_in + b_rec, then b_in of the candidate, then b_rec of the candidate.
  const std::size_t u = std::size_t(u_);
  for (std::size_t i = 0; i < 2 * u; ++i) bias[i] = b[i] + b[gu + i];
  for (std::size_t i = 0; i < u; ++i) {
    bias[2 * u + i] = b[2 * u + i];
    bias[3 * u + i] = b[gu + 2 * u + i];
  }
}

float* OnednnRnn::src_layer() { return data_of(src_layer_); }
float* OnednnRnn::diff_dst_layer() { return data_of(diff_dst_layer_); }
const float* OnednnRnn::dst_layer() const { return data_of(dst_layer_); }
const float* OnednnRnn::diff_src_layer() const { return data_of(diff_src_layer_); }

std::string OnednnRnn::implementation() const {
  std::string reorders;
  auto note = [&](const Weights& w, const char* what) {
    if (!w.same) reorders += std::string(reorders.empty() ? "" : ", ") + what;
  };
  note(fwd_wl_, "fwd weights_layer");
  note(fwd_wi_, "fwd weights_iter");
  note(bwd_wl_, "bwd weights_layer");
  note(bwd_wi_, "bwd weights_iter");
  note(dwl_, "diff_weights_layer");
  note(dwi_, "diff_weights_iter");
  return std::string("fwd ") + fwd_pd_.impl_info_str() + ", bwd " + bwd_pd_.impl_info_str() +
         "; weight reorders per step: " + (reorders.empty() ? "none" : reorders);
}

void OnednnRnn::forward(dnnl::stream& stream) {
  if (!fwd_wl_.same) fwd_wl_.reorder.execute(stream, fwd_wl_.user, fwd_wl_.prim);
  if (!fwd_wi_.same) fwd_wi_.reorder.execute(stream, fwd_wi_.user, fwd_wi_.prim);
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC_LAYER, src_layer_},      {DNNL_ARG_WEIGHTS_LAYER, fwd_wl_.prim},
      {DNNL_ARG_WEIGHTS_ITER, fwd_wi_.prim}, {DNNL_ARG_BIAS, bias_},
      {DNNL_ARG_DST_LAYER, dst_layer_},      {DNNL_ARG_WORKSPACE, workspace_}};
  if (src_iter_) args[DNNL_ARG_SRC_ITER] = src_iter_;
  if (src_iter_c_) args[DNNL_ARG_SRC_ITER_C] = src_iter_c_;
  fwd_.execute(stream, args);
  stream.wait();
}

void OnednnRnn::backward(dnnl::stream& stream) {
  if (!bwd_wl_.same) bwd_wl_.reorder.execute(stream, bwd_wl_.user, bwd_wl_.prim);
  if (!bwd_wi_.same) bwd_wi_.reorder.execute(stream, bwd_wi_.user, bwd_wi_.prim);
  zero(dwl_.prim);
  zero(dwi_.prim);
  zero(diff_bias_);
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC_LAYER, src_layer_},           {DNNL_ARG_WEIGHTS_LAYER, bwd_wl_.prim},
      {DNNL_ARG_WEIGHTS_ITER, bwd_wi_.prim},      {DNNL_ARG_BIAS, bias_},
      {DNNL_ARG_DST_LAYER, dst_layer_},           {DNNL_ARG_WORKSPACE, workspace_},
      {DNNL_ARG_DIFF_SRC_LAYER, diff_src_layer_}, {DNNL_ARG_DIFF_WEIGHTS_LAYER, dwl_.prim},
      {DNNL_ARG_DIFF_WEIGHTS_ITER, dwi_.prim},    {DNNL_ARG_DIFF_BIAS, diff_bias_},
      {DNNL_ARG_DIFF_DST_LAYER, diff_dst_layer_}};
  if (src_iter_) {
    args[DNNL_ARG_SRC_ITER] = src_iter_;
    args[DNNL_ARG_DIFF_SRC_ITER] = diff_src_iter_;
  }
  if (src_iter_c_) {
    args[DNNL_ARG_SRC_ITER_C] = src_iter_c_;
    args[DNNL_ARG_DIFF_SRC_ITER_C] = diff_src_iter_c_;
  }
  bwd_.execute(stream, args);
  if (!dwl_.same) dwl_.reorder.execute(stream, dwl_.prim, dwl_.user);
  if (!dwi_.same) dwi_.reorder.execute(stream, dwi_.prim, dwi_.user);
  stream.wait();
}

void OnednnRnn::add_gradients(float* grads, const model::ParameterLayout& layout,
                              const std::string& name) const {
  const std::size_t gu = std::size_t(G_) * u_, u = std::size_t(u_);
  float* kernel = grads + layout.find(name + "/kernel").offset;
  float* rec = grads + layout.find(name + "/recurrent_kernel").offset;
  float* b = grads + layout.find(name + "/bias").offset;
  const float* dwl = data_of(dwl_user_);
  const float* dwi = data_of(dwi_user_);
  const float* db = data_of(diff_bias_);
  for (std::size_t i = 0; i < std::size_t(n_) * gu; ++i) kernel[i] += dwl[i];
  for (std::size_t i = 0; i < u * gu; ++i) rec[i] += dwi[i];
  if (kind_ != Kind::kGru) {
    for (std::size_t i = 0; i < gu; ++i) b[i] += db[i];
    return;
  }
  // The u and r rows of oneDNN's bias are b_in + b_rec: both get their gradient.
  for (std::size_t i = 0; i < 2 * u; ++i) {
    b[i] += db[i];
    b[gu + i] += db[i];
  }
  for (std::size_t i = 0; i < u; ++i) {
    b[2 * u + i] += db[2 * u + i];
    b[gu + 2 * u + i] += db[3 * u + i];
  }
}

}  // namespace rnn_dist::bench
