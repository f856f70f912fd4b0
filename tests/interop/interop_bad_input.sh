#!/usr/bin/env bash
# interop_bad_input.sh RNN_DIST PREPARED_DATA ACLIMDB_DIR NODE_DIR
#
# Bad input to export and import: a damaged checkpoint, an unknown or missing format, paths that
# cannot be written, a model.json that is not JSON or not a TensorFlow.js model, a missing text
# pipeline. Each ends with one line "rnn_dist: error: ..." naming what is wrong, status 2 for
# usage (an option, a path naming nothing usable) or 1 (a damaged or unsupported file), and
# leaves no file behind. (Unsupported layers and missing weights: interop_import.sh.)
source "$(dirname "${BASH_SOURCE[0]}")/interop_lib.sh"
interop_init interop_bad_input "$@"

e2e_run train 120 "$RNN_DIST" --data "$DATA" --num-words 2000 --maxlen 50 --embed 8 \
    --layers gru:8 --max-steps 2 --validation-split 0 --no-test -q --output-dir "$T/train"
assert_status train 0
GOOD=$T/train/checkpoints/ckpt-0000000002.rnnd
OUT=$T/out
mkdir "$OUT"

# fails <case> <status> <regex> <command...>: one error line matching, the status, $OUT empty.
fails() {
  local name=$1 status=$2 re=$3
  shift 3
  e2e_run "$name" 60 "$RNN_DIST" "$@"
  assert_status "$name" "$status"
  assert_output "$name" "^rnn_dist: error: $re"
  check $([[ $(wc -l <"$T/$name.err") -eq 1 ]]; echo $?) "$name: one line on stderr"
  check $([[ -z $(ls -A "$OUT") ]]; echo $?) "$name: nothing left in the output folder: $(ls -A "$OUT" | head -c 200)"
}

cp "$GOOD" "$T/damaged.rnnd"
size=$(stat -c %s "$T/damaged.rnnd")
printf '\xff\xff\xff\xff' | dd of="$T/damaged.rnnd" bs=1 seek=$((size / 2)) conv=notrunc status=none
fails damaged_onnx 1 "checkpoint .*damaged" export --checkpoint "$T/damaged.rnnd" --format onnx --out "$OUT/m.onnx"
fails damaged_tfjs 1 "checkpoint .*damaged" export --checkpoint "$T/damaged.rnnd" --format tfjs --out "$OUT/m"
fails not_a_checkpoint 1 ".*reviews.txt is not an rnn_dist checkpoint" export --checkpoint "$REVIEWS" --format onnx --out "$OUT/m.onnx"
fails missing_checkpoint 2 "--checkpoint $T/none.rnnd: no such file" export --checkpoint "$T/none.rnnd" --format onnx --out "$OUT/m.onnx"
fails unknown_format 2 "--format 'keras' is not a known format \(expected onnx or tfjs\)" export --checkpoint "$GOOD" --format keras --out "$OUT/m"
fails no_format 2 "export needs --format" export --checkpoint "$GOOD" --out "$OUT/m"
fails no_folder 2 "--out $T/none/m.onnx: $T/none is not an existing folder" export --checkpoint "$GOOD" --format onnx --out "$T/none/m.onnx"
# /proc takes no new files, even from root: the write itself fails.
fails unwritable_onnx 1 "cannot write /proc/m" export --checkpoint "$GOOD" --format onnx --out /proc/m.onnx
fails unwritable_tfjs 2 "--out /proc/m: cannot create the folder" export --checkpoint "$GOOD" --format tfjs --out /proc/m
touch "$T/a_file"
fails tfjs_out_is_file 2 "--out $T/a_file: exists and is not a folder" export --checkpoint "$GOOD" --format tfjs --out "$T/a_file"

e2e_run export_tfjs 60 "$RNN_DIST" export --checkpoint "$GOOD" --format tfjs --out "$T/tfjs"
assert_status export_tfjs 0
fails import_missing 2 "--from $T/none.json: no such file" import --from "$T/none.json" --out "$OUT/x.rnnd"
echo '{"format": "layers-model", "modelTopology": ' >"$T/tfjs/truncated.json"
fails import_not_json 1 ".*truncated.json: not valid JSON" import --from "$T/tfjs/truncated.json" --out "$OUT/x.rnnd"
echo '{"format": "graph-model", "modelTopology": {}}' >"$T/tfjs/graph.json"
fails import_graph_model 1 ".*graph.json: not a TensorFlow.js Layers model" import --from "$T/tfjs/graph.json" --out "$OUT/x.rnnd"
mkdir "$T/novocab" && cp "$T/tfjs/model.json" "$T/tfjs/weights.bin" "$T/novocab/"
fails import_no_pipeline 2 "--vocabulary \(default: beside --from\) $T/novocab/vocab.json: no such file" import --from "$T/novocab/model.json" --out "$OUT/x.rnnd"
fails import_no_folder 2 "--out $T/none/x.rnnd: $T/none is not an existing folder" import --from "$T/tfjs/model.json" --out "$T/none/x.rnnd"
e2e_finish
