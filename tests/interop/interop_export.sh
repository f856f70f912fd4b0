#!/usr/bin/env bash
# interop_export.sh RNN_DIST PREPARED_DATA ACLIMDB_DIR NODE_DIR
#
# Export checked by independent runtimes: for an LSTM, a SimpleRNN, a GRU, a 2-layer stack and
# masked models, a short training run on the real data, `rnn_dist export` to ONNX and to
# TensorFlow.js, then ONNX Runtime (onnxruntime-node) and TensorFlow.js (@tensorflow/tfjs, CPU)
# score 200 real test reviews, the text turned into ids by the export's own vocab.json: every
# probability equals `rnn_dist predict`'s to 1e-5. The GRU models are both kinds: reset_after
# (rnn_dist's and Keras's default) and reset_after=false. TensorFlow.js 4.22 has no GRU with
# reset_after: for those models it must refuse with that reason (if a later tfjs loads them, they
# are compared like the others); reset_after=false GRUs are compared in tfjs like the rest.
# Negative control: the same checkpoints exported with a wrong gate order
# (RNN_DIST_EXPORT_WRONG_GATES=1, test only) must FAIL the comparison.
source "$(dirname "${BASH_SOURCE[0]}")/interop_lib.sh"
interop_init interop_export "$@"

check_tfjs() {  # check_tfjs <name> <layers>
  node_check "tfjs_$1" "$T/$1.predict" --tfjs "$T/$1.tfjs"
  if [[ ,$2, =~ ,gru:[0-9]+, ]] && grep -q 'GRUCell does not support reset_after' "$T/tfjs_$1.err"; then
    check 0 "tfjs $1: TensorFlow.js refuses GRU reset_after, as documented: $CHECK_LINE"
  else
    check "$E2E_STATUS" "tfjs $1: $CHECK_LINE"
  fi
}

for model in "lstm lstm:8" "simplernn simplernn:8" "gru gru:8" "gru_rb gru:8:reset_after=false" \
             "stack lstm:8,gru:6" "masked_lstm lstm:8 --mask-padding" \
             "masked_stack gru:8,simplernn:4 --mask-padding" \
             "masked_gru_rb simplernn:6,gru:8:reset_after=false --mask-padding"; do
  read -r name layers mask <<<"$model"
  echo "== $name: --layers $layers $mask"
  train_small "$name" --layers "$layers" $mask
  predict_all "$name" "$CKPT"
  e2e_run "export_onnx_$name" 60 "$RNN_DIST" export --checkpoint "$CKPT" --format onnx --out "$T/$name.onnx"
  assert_status "export_onnx_$name" 0
  e2e_run "export_tfjs_$name" 60 "$RNN_DIST" export --checkpoint "$CKPT" --format tfjs --out "$T/$name.tfjs"
  assert_status "export_tfjs_$name" 0
  node_check "onnx_$name" "$T/$name.predict" --onnx "$T/$name.onnx"
  check "$E2E_STATUS" "onnx $name: $CHECK_LINE"
  check_tfjs "$name" "$layers"
  if [[ $layers == lstm* || $layers == gru* ]]; then
    RNN_DIST_EXPORT_WRONG_GATES=1 e2e_run "wrong_onnx_$name" 60 "$RNN_DIST" export \
        --checkpoint "$CKPT" --format onnx --out "$T/wrong_$name.onnx"
    node_check "onnx_wrong_$name" "$T/$name.predict" --onnx "$T/wrong_$name.onnx"
    check $((E2E_STATUS == 1 ? 0 : 1)) "negative control, wrong gate order, onnx $name: fails: $CHECK_LINE"
  fi
  if [[ $name == lstm || $name == masked_lstm || $name == gru_rb ]]; then
    RNN_DIST_EXPORT_WRONG_GATES=1 e2e_run "wrong_tfjs_$name" 60 "$RNN_DIST" export \
        --checkpoint "$CKPT" --format tfjs --out "$T/wrong_$name.tfjs"
    node_check "tfjs_wrong_$name" "$T/$name.predict" --tfjs "$T/wrong_$name.tfjs"
    check $((E2E_STATUS == 1 ? 0 : 1)) "negative control, wrong gate order, tfjs $name: fails: $CHECK_LINE"
  fi
done
e2e_finish
