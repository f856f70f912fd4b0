// ONNX export of a checkpoint: one ModelProto (opset 14, IR version 8) whose graph computes
// Keras's forward pass.
//
// Input  "token_ids": int64 [batch, T], ids already capped at num_words, truncated and padded
//        the way the checkpoint's pipeline says (Keras pad_sequences, 'pre' by default); T is
//        maxlen for a model without masking (its padding steps are part of the computation), any
//        length for a masked one.
// Output "probability": float [batch, 1], sigmoid of the Dense logit.
// Graph: Gather (embedding) -> Transpose to time-major (ONNX Runtime has no layout=1 recurrent
// kernels) -> LSTM / GRU (linear_before_reset = Keras's reset_after, 1 or 0) / RNN per layer,
// Squeeze between them -> Squeeze of the last Y_h -> Gemm -> Sigmoid.
// Masked models (Keras mask_zero): ONNX's sequence_lens counts the leading steps of each row, so
// the graph derives each row's length from its non-zero ids and, for 'pre' padding, rotates each
// row so that its real ids come first (GatherElements); the recurrent ops then read only those.
// REQUIRES of the input: every row has at least one non-zero id (rnn_dist's encoding always
// starts with the start id 1), and no zero between real ids.
#pragma once

#include <string>

#include "rnn_dist.pb.h"

namespace rnn_dist::interop {

// The serialized ModelProto of a validated checkpoint, checked by ONNX's own checker. Throws
// InteropError if the checker refuses it (a bug here, not the user's).
std::string onnx_model_bytes(const pb::Checkpoint& checkpoint);

}  // namespace rnn_dist::interop
