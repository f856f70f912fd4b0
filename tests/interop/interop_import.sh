#!/usr/bin/env bash
# interop_import.sh RNN_DIST PREPARED_DATA ACLIMDB_DIR NODE_DIR
#
# Import from TensorFlow.js: a masked Embedding -> LSTM -> SimpleRNN -> Dense model built and
# briefly trained in tfjs-layers (train_tfjs.js, on real reviews through an rnn_dist text
# pipeline) becomes an rnn_dist checkpoint with `rnn_dist import`; `rnn_dist predict` of 200 real
# reviews equals tfjs's own predictions to 1e-5; exporting the imported checkpoint to tfjs gives
# back the same weights bit for bit; `evaluate` and `train --resume` (fine-tuning) accept it.
# tfjs's own GRU (reset_after false) is imported the same way (rnn_dist's gru:8:reset_after=false)
# and checked the same way. Unsupported models (that GRU with tfjs's default hard_sigmoid; a
# Dropout layer) and missing weights are refused with one line naming the layer, setting or file,
# status 1, and no checkpoint left.
source "$(dirname "${BASH_SOURCE[0]}")/interop_lib.sh"
interop_init interop_import "$@"

echo "== a text pipeline (vocab.json) from an rnn_dist export"
e2e_run pipeline_train 120 "$RNN_DIST" --data "$DATA" --num-words 2000 --maxlen 100 --embed 8 \
    --layers lstm:8 --mask-padding --max-steps 2 --validation-split 0 --no-test -q \
    --output-dir "$T/pipeline_train"
assert_status pipeline_train 0
e2e_run pipeline_export 60 "$RNN_DIST" export --format tfjs --out "$T/pipeline" \
    --checkpoint "$T/pipeline_train/checkpoints/ckpt-0000000002.rnnd"
assert_status pipeline_export 0

# tfjs_round_trip <name> [train_tfjs.js options]: a model trained in tfjs-layers into $T/<name>,
# imported as $T/<name>.rnnd: rnn_dist predict equals tfjs's predictions to 1e-5, and the
# re-export ($T/<name>_reexport) has tfjs's weights.bin, bit for bit.
tfjs_round_trip() {
  local name=$1
  shift
  e2e_run "train_$name" 300 node "$INTEROP_SRC/train_tfjs.js" --pipeline "$T/pipeline/vocab.json" \
      --reviews "$REVIEWS" --out "$T/$name" "$@"
  assert_status "train_$name" 0
  e2e_run "import_$name" 60 "$RNN_DIST" import --from "$T/$name/model.json" --out "$T/$name.rnnd"
  assert_status "import_$name" 0
  predict_all "imported_$name" "$T/$name.rnnd"
  diff=$(max_abs_diff "$T/$name/predictions.tsv" "$T/imported_$name.predict")
  le "$diff" 1e-5
  check $? "$name: rnn_dist predict of the imported model = tfjs's predictions: max |diff| $diff (tolerance 1e-5)"
  e2e_run "reexport_$name" 60 "$RNN_DIST" export --checkpoint "$T/$name.rnnd" --format tfjs \
      --out "$T/${name}_reexport"
  assert_status "reexport_$name" 0
  cmp "$T/$name/weights.bin" "$T/${name}_reexport/weights.bin"
  check $? "$name: weights.bin of tfjs ($(stat -c %s "$T/$name/weights.bin") bytes) = the re-export's, bit for bit"
}

echo "== a model trained in tfjs-layers, imported; export(import(x)) = x"
tfjs_round_trip tfjs
node_check reexport_tfjs "$T/imported_tfjs.predict" --tfjs "$T/tfjs_reexport"
check "$E2E_STATUS" "the re-export loads in tfjs and scores as rnn_dist predict: $CHECK_LINE"

echo "== evaluate and fine-tune the imported checkpoint"
e2e_run evaluate 120 "$RNN_DIST" evaluate --checkpoint "$T/tfjs.rnnd" --data "$DATA"
assert_status evaluate 0
assert_output evaluate '^test split: loss [0-9.]+ - acc [0-9.]+ \(25000 reviews'
e2e_run finetune 120 "$RNN_DIST" train --resume "$T/tfjs.rnnd" --data "$DATA" --num-words 2000 \
    --maxlen 100 --embed 8 --layers lstm:8,simplernn:4 --mask-padding --max-steps 3 --no-test \
    --threads 1 --output-dir "$T/finetune"
assert_status finetune 0
assert_output finetune "resumed from $T/tfjs.rnnd"
[[ -s $T/finetune/checkpoints/ckpt-0000000003.rnnd ]]
check $? "fine-tuning wrote its checkpoint after 3 steps"

echo "== tfjs's own GRU (reset_after false), trained in tfjs-layers, imported"
tfjs_round_trip gru --cell gru-reset-before --train-reviews 10
grep -qE '"reset_after": ?false' "$T/gru_reexport/model.json"
check $? "gru: the re-export says reset_after false"

echo "== unsupported models and missing weights are refused"
refused() {  # refused <case> <regex of the one error line>
  local name=$1 re=$2
  assert_status "$name" 1
  assert_output "$name" "^rnn_dist: error: .*$re"
  check $([[ $(wc -l <"$T/$name.err") -eq 1 ]]; echo $?) "$name: one line on stderr"
  check $([[ ! -e $T/$name.rnnd ]] && ! ls "$T/$name".rnnd.tmp.* >/dev/null 2>&1; echo $?) \
      "$name: no checkpoint or temporary file left"
}
mkdir "$T/hard" && cp "$T/gru/weights.bin" "$T/gru/vocab.json" "$T/hard/"
node -e '
  const fs = require("fs"), m = JSON.parse(fs.readFileSync(process.argv[1]));
  for (const l of m.modelTopology.config.layers)
    if (l.class_name === "GRU") l.config.recurrent_activation = "hard_sigmoid";
  fs.writeFileSync(process.argv[2], JSON.stringify(m));' "$T/gru/model.json" "$T/hard/model.json"
e2e_run hard 60 "$RNN_DIST" import --from "$T/hard/model.json" --out "$T/hard.rnnd"
refused hard "layer 'gru[^']*' \(GRU\): recurrent_activation \"hard_sigmoid\" is not supported"
mkdir "$T/dropout" && cp "$T/tfjs/weights.bin" "$T/tfjs/vocab.json" "$T/dropout/"
node -e '
  const fs = require("fs"), m = JSON.parse(fs.readFileSync(process.argv[1]));
  m.modelTopology.config.layers.splice(2, 0, {class_name: "Dropout", config: {name: "dropout_1", rate: 0.5}});
  fs.writeFileSync(process.argv[2], JSON.stringify(m));' "$T/tfjs/model.json" "$T/dropout/model.json"
e2e_run dropout 60 "$RNN_DIST" import --from "$T/dropout/model.json" --out "$T/dropout.rnnd"
refused dropout "layer 'dropout_1' \(Dropout\) is not supported"
mkdir "$T/noweights" && cp "$T/tfjs/model.json" "$T/tfjs/vocab.json" "$T/noweights/"
e2e_run noweights 60 "$RNN_DIST" import --from "$T/noweights/model.json" --out "$T/noweights.rnnd"
refused noweights "weights file .*weights.bin cannot be read"
mkdir "$T/short" && cp "$T/tfjs/model.json" "$T/tfjs/vocab.json" "$T/short/"
head -c 1000 "$T/tfjs/weights.bin" >"$T/short/weights.bin"
e2e_run short 60 "$RNN_DIST" import --from "$T/short/model.json" --out "$T/short.rnnd"
refused short "the weight files end before weight"
e2e_finish
