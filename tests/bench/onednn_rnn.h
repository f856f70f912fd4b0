// One recurrent layer computed by Intel oneDNN 2.x's RNN primitives (forward_training, then
// backward), fed with rnn_dist's parameters so that the two can be timed on the same work and
// their gradients compared. Used by bench_onednn.cc only.
//
// Cells, and how rnn_dist's (Keras) tensors map onto oneDNN's:
//   LSTM       lstm_forward/lstm_backward; oneDNN's gate order i, f, c~, o is Keras's i, f, c, o.
//   GRU        lbr_gru ("linear before reset" = Keras reset_after); gates u, r, o = Keras z, r, h,
//              same update rule h_t = u h_{t-1} + (1 - u) o. Bias (4, u): the sums b_in + b_rec
//              of the u and r gates, then b_in of o, then b_rec of o (the one inside r * (.)).
//   GRU reset-before (Keras reset_after=False) gru: gates u, r, o = Keras z, r, h,
//              o = tanh(W_o x + U_o (r h_{t-1}) + b_o); bias (3, u) = Keras's (3u).
//   SimpleRNN  vanilla_rnn with eltwise_tanh.
// Memory layouts: rnn_dist's (n, T*B) column-major time-major sequences are oneDNN's tnc; a
// Keras kernel (in, G*u) stored row-major is oneDNN's ldigo (L = D = 1), the bias (G*u) ldgo. The
// primitives choose their own weight formats (format_tag::any); forward() and backward() reorder
// the user weights into them every call, as a training step must (the weights change every
// step), and backward() reorders the weight gradients back to ldigo.
//
// The initial state is an explicit zero src_iter (and src_iter_c for LSTM), not a zero memory
// descriptor: oneDNN 2.6.3 documents the two as equivalent, but without src_iter its LSTM and
// vanilla-RNN backward pair h_t instead of h_{t-1} with the gates in diff_weights_iter.
// dst_iter / diff_dst_iter are not used: the loss gradient enters through diff_dst_layer.
#pragma once

#include <dnnl.hpp>
#include <string>

#include "tests/model/layer_fixture.h"  // Kind
#include "trainer/model/parameters.h"

namespace rnn_dist::bench {

using model::testing::Kind;

class OnednnRnn {
 public:
  // A layer of `units` with `input_dim` inputs over T steps of B examples. With
  // explicit_initial_state false, src_iter is left out (the oneDNN defect above; for
  // demonstrating that the gradient check catches it).
  // REQUIRES: the OpenMP thread count (omp_set_num_threads) is the one the primitives will run
  // with: oneDNN may fix its work split when a primitive is created.
  OnednnRnn(Kind kind, int T, int B, int input_dim, int units, const dnnl::engine& engine,
            bool explicit_initial_state = true);

  // Copies one layer's weights out of an rnn_dist parameter buffer: the tensors "<name>/kernel",
  // "<name>/recurrent_kernel" and "<name>/bias" of `layout`.
  void set_weights(const float* params, const model::ParameterLayout& layout,
                   const std::string& name);
  // (n, T*B), time-major: the input sequence. Write it before forward().
  float* src_layer();
  // (u, T*B): the loss gradient w.r.t. the output sequence; zero unless written (write only the
  // last step's (u, B) block for a loss on the final output).
  float* diff_dst_layer();

  // Weight reorders + forward_training; waits for the stream.
  void forward(dnnl::stream& stream);
  // Zeroes the weight gradients, then weight reorders + backward + gradient reorders; waits.
  // REQUIRES: forward() ran on the current input.
  void backward(dnnl::stream& stream);

  // Adds this layer's parameter gradients, in rnn_dist's layout, into the rnn_dist gradient
  // buffer `grads` at `layout`'s "<name>/..." offsets.
  void add_gradients(float* grads, const model::ParameterLayout& layout,
                     const std::string& name) const;
  const float* dst_layer() const;       // (u, T*B)
  const float* diff_src_layer() const;  // (n, T*B)
  // oneDNN's names of the implementations it chose, e.g. "fwd ref:any, bwd ref:any".
  std::string implementation() const;

 private:
  // A weight tensor as the user holds it (ldigo) and as a primitive wants it.
  struct Weights {
    dnnl::memory user, prim;
    dnnl::reorder reorder;  // user -> prim (prim -> user for gradients); empty if same
    bool same = true;
  };
  static Weights make_weights(const dnnl::memory& user, const dnnl::memory::desc& want,
                              const dnnl::engine& engine, bool to_user);

  Kind kind_;
  int T_, B_, n_, u_, G_;
  dnnl::primitive fwd_, bwd_;
  dnnl::rnn_primitive_desc_base fwd_pd_, bwd_pd_;
  dnnl::memory src_layer_, src_iter_, src_iter_c_, bias_, dst_layer_, workspace_;
  dnnl::memory diff_src_layer_, diff_src_iter_, diff_src_iter_c_, diff_bias_, diff_dst_layer_;
  dnnl::memory wl_user_, wi_user_, dwl_user_, dwi_user_;
  Weights fwd_wl_, fwd_wi_, bwd_wl_, bwd_wi_, dwl_, dwi_;  // dwl_/dwi_: prim -> user
};

}  // namespace rnn_dist::bench
