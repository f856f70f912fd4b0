#!/usr/bin/env bash
# cli_bad_input.sh <rnn_dist> <mpirun> <prepared data file>
#
# Bad input found after the options parse (data, checkpoints, reviews, a full disk) ends with one
# clear line, the documented status, and nothing half-written:
#  - 2-rank jobs: a --validation-split that leaves less than one global batch, data folders
#    lacking part of aclImdb, --resume or --checkpoint naming a folder or nothing: status 2, one
#    line naming what is wrong, no history or checkpoint written;
#  - predict: every valid review is scored, each bad one (invalid UTF-8, NUL byte, empty) gets
#    its own line naming the argument, file or stdin line, status 1; a --file that is a folder or
#    missing, or nothing to score, is status 2; a 10 MB line is scored;
#  - a full disk (a file size limit) while writing a checkpoint: status 1, the line says whether
#    an earlier checkpoint is left, no temporary file remains; with --progress bar the message
#    starts a line of its own, also when rank 0 reports a stuck rank under mpirun -np 2, and
#    when rank 1 fails while rank 0's bar line is open.
BIN=$1
MPIRUN=$2
DATA=$3
source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
need_data "$DATA"

# nothing_written <name> <output dir>: no history, config or checkpoint file in it.
nothing_written() {
  local files
  files=$(find "$2" -type f 2>/dev/null | grep -E 'history|config.ini|\.rnnd' || true)
  check "$1: nothing written in the output folder${files:+ (found: $files)}" test -z "$files"
}

# ---- 1. a split that leaves less than one global batch (2 ranks) ----------------------------
expect_fail split_too_big 2 \
    "error: --validation-split 0.999999 leaves 0 of the 25000 training reviews for training: fewer than one global batch \(--batch-size 128\)$" \
    "$MPIRUN" -np 2 "$BIN" --data "$DATA" --validation-split 0.999999 --threads 1 --output-dir "$SCRATCH/split"
nothing_written split_too_big "$SCRATCH/split"
expect_fail batch_above_data 2 \
    "error: --validation-split 0.9 leaves 2499 of the 25000 training reviews for training: fewer than one global batch \(--batch-size 4096\)$" \
    "$BIN" --data "$DATA" --validation-split 0.9 --batch-size 4096 --threads 1 --output-dir "$SCRATCH/split1"

# ---- 2. data folders lacking part of aclImdb, --resume / --checkpoint naming a folder (2 ranks)
mkdir -p "$SCRATCH/empty" "$SCRATCH/train_only/train/pos" "$SCRATCH/train_only/train/neg"
for d in train/pos test/pos train/neg test/neg; do mkdir -p "$SCRATCH/no_neg/aclImdb/$d"; done
for f in train/pos/1_10 train/neg/2_1 test/pos/3_9; do echo "a review" >"$SCRATCH/no_neg/aclImdb/$f.txt"; done
expected="\(expected an aclImdb folder with train/pos, train/neg, test/pos and test/neg"
expect_fail data_empty_folder 2 "error: --data $SCRATCH/empty: no train/ or test/ folder $expected" \
    "$MPIRUN" -np 2 "$BIN" --data "$SCRATCH/empty" --output-dir "$SCRATCH/o_empty"
nothing_written data_empty_folder "$SCRATCH/o_empty"
expect_fail data_no_test 2 "error: --data $SCRATCH/train_only: no test/ folder $expected" \
    "$MPIRUN" -np 2 "$BIN" --data "$SCRATCH/train_only" --output-dir "$SCRATCH/o_train_only"
expect_fail data_empty_label 2 "error: --data $SCRATCH/no_neg: no .txt review in aclImdb/test/neg/ $expected" \
    "$BIN" --data "$SCRATCH/no_neg" --output-dir "$SCRATCH/o_no_neg"
expect_fail prepare_no_test 2 "error: --data $SCRATCH/train_only: no test/ folder \(expected an aclImdb folder" \
    "$BIN" prepare --data "$SCRATCH/train_only" --out "$SCRATCH/x.rnn_dist"
check "prepare_no_test: no prepared file written" test ! -e "$SCRATCH/x.rnn_dist"
expect_fail resume_folder 2 "error: rank 0 \([^)]*\): --resume $SCRATCH: is a folder, not a file$" \
    "$MPIRUN" -np 2 "$BIN" --data "$DATA" --resume "$SCRATCH" --output-dir "$SCRATCH/o_resume"
nothing_written resume_folder "$SCRATCH/o_resume"
expect_fail evaluate_missing 2 "error: --checkpoint $SCRATCH/none.rnnd: no such file$" \
    "$MPIRUN" -np 2 "$BIN" evaluate --data "$DATA" --checkpoint "$SCRATCH/none.rnnd"
# A file that is not a prepared dataset, or a damaged one: every rank finds it when it opens the
# data, and the ranks agree on the error: one line, status 1, no MPI_ABORT.
head -c 4096 /dev/urandom >"$SCRATCH/garbage.rnn_dist"
expect_fail data_not_prepared 1 "error: not an rnn_dist prepared dataset: $SCRATCH/garbage.rnn_dist$" \
    "$MPIRUN" -np 2 "$BIN" --data "$SCRATCH/garbage.rnn_dist" --output-dir "$SCRATCH/o_garbage"
check "data_not_prepared: no MPI_ABORT" bash -c "! grep -q MPI_ABORT '$SCRATCH/data_not_prepared.err'"
nothing_written data_not_prepared "$SCRATCH/o_garbage"
head -c 1000000 "$DATA" >"$SCRATCH/truncated.rnn_dist"
expect_fail data_truncated 1 "error: prepared dataset $SCRATCH/truncated.rnn_dist is truncated: 1000000 bytes" \
    "$MPIRUN" -np 2 "$BIN" --data "$SCRATCH/truncated.rnn_dist" --output-dir "$SCRATCH/o_truncated"

# ---- 3. a checkpoint to predict from, then a full disk at the next checkpoint ----------------
# The limit is set for the process (ulimit -f, SIGXFSZ ignored so that write() fails with EFBIG
# as on a full disk); one process, since Open MPI's daemons would not survive it. A model of
# 80,000 words makes a 20 MB checkpoint, above the 4 MB limit and the rest of the run below it.
BIG=(--data "$DATA" "${SMALL_RUN[@]}" --epochs 1 --num-words 80000)
timeout 60 "$BIN" "${BIG[@]}" --max-steps 5 --output-dir "$SCRATCH/a" >"$SCRATCH/a.out" 2>&1
check "a: 5 steps and a checkpoint (status $?)" test -s "$SCRATCH/a/checkpoints/ckpt-0000000005.rnnd"
CKPT=$SCRATCH/a/checkpoints/ckpt-0000000005.rnnd
LIMITED=(bash -c 'trap "" XFSZ; ulimit -f 4096; exec "$@"' limited)
# (a) The first checkpoint of a run: nothing earlier to fall back on, and the message says so.
expect_fail disk_full_first 1 \
    "rank 0 \([^)]*\): cannot write checkpoint $SCRATCH/b/checkpoints/ckpt-0000000005.rnnd: File too large \(nothing was left there\); $SCRATCH/b/checkpoints holds no earlier checkpoint$" \
    "${LIMITED[@]}" "$BIN" "${BIG[@]}" --max-steps 5 --output-dir "$SCRATCH/b"
left=$(ls -A "$SCRATCH/b/checkpoints")
check "disk_full_first: no file left in the checkpoint folder${left:+ (found: $left)}" test -z "$left"
# (b) A resumed run, its bar open at a --checkpoint-every step: the earlier checkpoint is named,
# and the message starts a line of its own (not glued to the bar; stdout and stderr to one file).
cp -r "$SCRATCH/a" "$SCRATCH/c"
FAIL_MERGED=1 expect_fail disk_full_resumed 1 \
    "rank 0 \([^)]*\): cannot write checkpoint .*/ckpt-0000000008.rnnd: File too large \(nothing was left there\); earlier checkpoints are untouched \(newest: $SCRATCH/c/checkpoints/ckpt-0000000005.rnnd\)$" \
    "${LIMITED[@]}" "$BIN" "${BIG[@]}" --max-steps 10 --checkpoint-every 8 --resume auto --progress bar \
    --output-dir "$SCRATCH/c"
check "disk_full_resumed: the bar was drawn (a '\\r' redraw)" grep -aq $'\r' "$SCRATCH/disk_full_resumed.out"
ls "$SCRATCH/c/checkpoints" | grep -v '^ckpt-0000000005.rnnd$' >"$SCRATCH/c.extra"
check "disk_full_resumed: only the earlier checkpoint is there ($(tr '\n' ' ' <"$SCRATCH/c.extra"))" \
    test ! -s "$SCRATCH/c.extra"

# ---- 4. predict: every valid review scored, each bad one named ------------------------------
lines_of() { grep -ac . "$SCRATCH/$1.out"; }
printf 'a wonderful film\n\xff not UTF-8\nawful\0 movie\n\nterrible, boring\n' >"$SCRATCH/mixed.txt"
timeout 30 "$BIN" predict --checkpoint "$CKPT" <"$SCRATCH/mixed.txt" >"$SCRATCH/mixed.out" 2>"$SCRATCH/mixed.err"
status=$?
check "predict stdin: status 1 (some lines bad), got $status" test $status -eq 1
check "predict stdin: the 2 valid lines scored, in order" bash -c "
    grep -Po '^[01]\.\d{4}\t(positive|negative)\t\K.*' '$SCRATCH/mixed.out' | tr '\n' '|' |
    grep -qx 'a wonderful film|terrible, boring|'"
check "predict stdin: one line per bad line, naming it" bash -c "
    grep -qx 'rnn_dist: error: stdin line 2: invalid UTF-8 at byte 0 (0xff)' '$SCRATCH/mixed.err' &&
    grep -qx 'rnn_dist: error: stdin line 3: NUL byte at byte 5 (not text)' '$SCRATCH/mixed.err' &&
    test \$(wc -l <'$SCRATCH/mixed.err') -eq 2"
((failures)) && show "$SCRATCH/mixed.err" "stderr of predict stdin"
printf 'x\xe2\x82' >"$SCRATCH/truncated.txt"
: >"$SCRATCH/empty.txt"
printf 'a good film\n' >"$SCRATCH/good.txt"
timeout 30 "$BIN" predict --checkpoint "$CKPT" --file "$SCRATCH/truncated.txt" \
    --file "$SCRATCH/good.txt" --file "$SCRATCH/empty.txt" >"$SCRATCH/files.out" 2>"$SCRATCH/files.err"
status=$?
check "predict files: status 1 (some bad), got $status" test $status -eq 1
check "predict files: the good file scored" grep -Pq "^[01]\.\d{4}\t(positive|negative)\t$SCRATCH/good.txt$" "$SCRATCH/files.out"
check "predict files: one line per bad file" bash -c "
    grep -qx 'rnn_dist: error: --file $SCRATCH/truncated.txt: invalid UTF-8 at byte 1 (0xe2)' '$SCRATCH/files.err' &&
    grep -qx 'rnn_dist: error: --file $SCRATCH/empty.txt: empty review' '$SCRATCH/files.err' &&
    test \$(wc -l <'$SCRATCH/files.err') -eq 2"
expect_fail predict_arg_invalid 1 "error: argument 1: invalid UTF-8 at byte 3 \(0xc3\)$" \
    "$BIN" predict --checkpoint "$CKPT" $'bad\xc3' "a fine film"
check "predict_arg_invalid: the valid argument scored" test "$(lines_of predict_arg_invalid)" -eq 1
expect_fail predict_file_folder 2 "error: --file $SCRATCH: is a folder, not a file$" \
    "$BIN" predict --checkpoint "$CKPT" --file "$SCRATCH"
expect_fail predict_file_missing 2 "error: --file $SCRATCH/none.txt: no such file$" \
    "$BIN" predict --checkpoint "$CKPT" --file "$SCRATCH/none.txt"
check "predict_file_missing: nothing on stdout" test ! -s "$SCRATCH/predict_file_missing.out"
FAIL_STDIN=$SCRATCH/empty.txt expect_fail predict_stdin_empty 2 "error: predict: no review to score" \
    "$BIN" predict --checkpoint "$CKPT"
FAIL_STDIN=$SCRATCH expect_fail predict_stdin_folder 2 "error: stdin: cannot read it: Is a directory$" \
    "$BIN" predict --checkpoint "$CKPT"
expect_fail predict_checkpoint_folder 2 "error: --checkpoint $SCRATCH: is a folder, not a file$" \
    "$BIN" predict --checkpoint "$SCRATCH" "a review"
{ head -c 10000000 /dev/zero | tr '\0' 'a' | sed 's/aaaa/good /g'; printf '\nbad film\n'; } >"$SCRATCH/long.txt"
timeout 30 "$BIN" predict --checkpoint "$CKPT" <"$SCRATCH/long.txt" >"$SCRATCH/long.out" 2>&1
status=$?
check "predict: a 10 MB line and a short one are both scored (status $status, $(grep -c . "$SCRATCH/long.out") lines)" \
    bash -c "test $status -eq 0 && test \$(grep -Pc '^[01]\.\d{4}\t(positive|negative)\t' '$SCRATCH/long.out') -eq 2"

# ---- 5. --progress bar under mpirun: rank 0's timeout report, rank 1's error start a line -----
RNN_DIST_FAULT=stop:1:3 FAIL_MERGED=1 expect_fail bar_timeout 75 \
    "rank 0 \([^)]*\): collective .* timed out after 2 s .*rank\(s\) 1 \([^)]*\) did not arrive" \
    "$MPIRUN" -np 2 "$BIN" --data "$DATA" "${SMALL_RUN[@]}" --epochs 1 --progress bar \
    --collective-timeout 2 --output-dir "$SCRATCH/bar"
check "bar_timeout: the bar was drawn (a '\\r' redraw)" grep -aq $'\r' "$SCRATCH/bar_timeout.out"
# The stopped rank is normally gone with the job; make sure (by pid, found by this test's folder).
pids=$(pgrep -f -- "$SCRATCH/bar" || true)
[[ -n $pids ]] && kill -CONT $pids 2>/dev/null && kill -KILL $pids 2>/dev/null
# Another rank's abort message: rank 0 cannot end its bar line for it, rank 1 starts its message
# on a fresh line.
RNN_DIST_FAULT=throw:1:3 FAIL_MERGED=1 expect_fail bar_other_rank 1 \
    "rank 1 \([^)]*\): injected fault \(RNN_DIST_FAULT\) before global step 3$" \
    "$MPIRUN" -np 2 "$BIN" --data "$DATA" "${SMALL_RUN[@]}" --epochs 1 --progress bar \
    --output-dir "$SCRATCH/bar_other"
check "bar_other_rank: the bar was drawn (a '\\r' redraw)" grep -aq $'\r' "$SCRATCH/bar_other_rank.out"

finish
