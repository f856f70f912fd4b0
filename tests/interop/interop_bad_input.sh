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

# A re-export over an earlier one that runs out of disk: every file of the earlier export stays
# as it was (the files are all written to temporaries before any is renamed). A model whose
# weights.bin (embed 64: 2.6 MB) is larger than its vocab.json, and a tmpfs with room for the
# first export and half of weights.bin plus vocab.json beside it: the second export's vocab.json
# temporary fits, its weights.bin does not. (Writing and renaming file by file would replace
# vocab.json, then fail on weights.bin and remove the new vocab.json: one file of the first
# export lost.) The tmpfs is in a private mount namespace, gone with the process.
e2e_run train_big 120 "$RNN_DIST" --data "$DATA" --num-words 10000 --maxlen 50 --embed 64 \
    --layers gru:8 --max-steps 1 --validation-split 0 --no-test -q --output-dir "$T/train_big"
assert_status train_big 0
BIG=$T/train_big/checkpoints/ckpt-0000000001.rnnd
e2e_run export_big 60 "$RNN_DIST" export --checkpoint "$BIG" --format tfjs --out "$T/big"
assert_status export_big 0
V=$(stat -c %s "$T/big/vocab.json") W=$(stat -c %s "$T/big/weights.bin") M=$(stat -c %s "$T/big/model.json")
check $((W > V ? 0 : 1)) "full_disk: weights.bin ($W bytes) is larger than vocab.json ($V bytes)"
mkdir "$T/small"
e2e_run full_disk 120 unshare --mount --propagation private bash -c '
  set -u; rnn=$1 ckpt=$2 dir=$3 size=$4
  mount -t tmpfs -o size="$size" rnn_dist_test "$dir" || exit 90
  "$rnn" export --checkpoint "$ckpt" --format tfjs --out "$dir/m" >/dev/null || exit 91
  before=$(cd "$dir/m" && sha256sum model.json weights.bin vocab.json)
  "$rnn" export --checkpoint "$ckpt" --format tfjs --out "$dir/m"
  echo "status $?"
  [[ $before == "$(cd "$dir/m" && sha256sum model.json weights.bin vocab.json 2>&1)" ]] && echo "files unchanged"
  echo "left: $(ls -A "$dir/m" | tr "\n" " ")"' _ "$RNN_DIST" "$BIG" "$T/small" \
    $((V + W + M + (V + W) / 2 + 65536))
assert_status full_disk 0
assert_output full_disk '^status 1$'
assert_output full_disk '^files unchanged$'
assert_output full_disk '^left: model.json vocab.json weights.bin $'
check $(grep -cE '^rnn_dist: error: cannot write .*weights.bin: No space left on device$' "$T/full_disk.err" | grep -qx 1; echo $?) \
    "full_disk: one error line naming weights.bin and 'No space left on device': $(head -c 300 "$T/full_disk.err")"
fails import_missing 2 "--from $T/none.json: no such file" import --from "$T/none.json" --out "$OUT/x.rnnd"
echo '{"format": "layers-model", "modelTopology": ' >"$T/tfjs/truncated.json"
fails import_not_json 1 ".*truncated.json: not valid JSON" import --from "$T/tfjs/truncated.json" --out "$OUT/x.rnnd"
echo '{"format": "graph-model", "modelTopology": {}}' >"$T/tfjs/graph.json"
fails import_graph_model 1 ".*graph.json: not a TensorFlow.js Layers model" import --from "$T/tfjs/graph.json" --out "$OUT/x.rnnd"
mkdir "$T/novocab" && cp "$T/tfjs/model.json" "$T/tfjs/weights.bin" "$T/novocab/"
fails import_no_pipeline 2 "--vocabulary \(default: beside --from\) $T/novocab/vocab.json: no such file" import --from "$T/novocab/model.json" --out "$OUT/x.rnnd"
fails import_no_folder 2 "--out $T/none/x.rnnd: $T/none is not an existing folder" import --from "$T/tfjs/model.json" --out "$T/none/x.rnnd"
e2e_finish
