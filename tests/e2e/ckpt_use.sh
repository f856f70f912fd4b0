#!/usr/bin/env bash
# ckpt_use.sh RNN_DIST COMPARE_CHECKPOINTS PREPARED_DATA
#
# Using a checkpoint after training: `evaluate` gives the same numbers on 1 and 2 ranks (val and
# test split); `predict` reads reviews from arguments, --file and stdin, prints one line per
# review with a probability in [0, 1] and the label it implies, and is deterministic; a bad
# checkpoint gives one clear error line and exit status 1, on 1 and 2 ranks, without hanging (a
# missing one, or data of another vocabulary: status 2, a usage error).
source "$(dirname "${BASH_SOURCE[0]}")/ckpt_lib.sh"
ckpt_init ckpt_use "$@"

echo "== training one epoch (79 steps at 2 ranks)"
run train 2 120 --data "$DATA" --maxlen 100 --batch-size 32 --threads 1 --no-test \
    --validation-split 0.9 --epochs 1 --output-dir "$T/train" --best-metric none
expect_status train 0
CKPT=$T/train/checkpoints/ckpt-0000000079.rnnd
check $([[ -s $CKPT ]]; echo $?) "train: epoch-end checkpoint $(basename "$CKPT")"

echo "== evaluate on 1 and 2 ranks"
# The numbers without the rank count: "<split> split: loss X - acc Y (N reviews".
numbers() { grep -Eo '^[a-z]+ split: loss [0-9.]+ - acc [0-9.]+ \([0-9]+ reviews' "$T/$1.log"; }
for split in val test; do
  run "eval_${split}_1" 0 120 evaluate --checkpoint "$CKPT" --split "$split" --data "$DATA"
  expect_status "eval_${split}_1" 0
  run "eval_${split}_2" 2 120 evaluate --checkpoint "$CKPT" --split "$split" --data "$DATA"
  expect_status "eval_${split}_2" 0
  expect_output "eval_${split}_2" "^$split split: loss [0-9.]+ - acc [0-9.]+ \\([0-9]+ reviews, 2 rank\\(s\\)\\)"
  one=$(numbers "eval_${split}_1") two=$(numbers "eval_${split}_2")
  check $([[ -n $one && $one == "$two" ]]; echo $?) "evaluate --split $split: 1 rank '$one' = 2 ranks '$two'"
done
# As Keras: int(25000 * (1 - 0.9)) = int(2499.9999999999995) = 2499 train, 22501 val.
expect_output eval_val_1 '\(22501 reviews, 1 rank\(s\)\)'
expect_output eval_test_1 '\(25000 reviews, 1 rank\(s\)\)'
# The val split evaluated by `evaluate` is the one training reported at the end of epoch 1.
val_acc=$(awk -F, 'NR == 2 { printf "%.4f", $5 }' "$T/train/history.csv")
expect_output eval_val_1 "acc $val_acc "

echo "== predict: arguments, --file, stdin"
POS="This movie was wonderful, a great story and brilliant acting. I loved it, one of the best films."
NEG="This movie was terrible, an awful boring mess with the worst acting. A waste of time, I hated it."
# Each output line: probability in [0,1] with 4 decimals, the label p > 0.5 implies, the review.
well_formed() {  # well_formed NAME COUNT
  local bad n
  bad=$(grep -Pv '^(0\.\d{4}|1\.0000)\t(positive|negative)\t.' "$T/$1.log"
        awk -F'\t' '($2 == "positive") != ($1 + 0 > 0.5) { print }' "$T/$1.log")
  n=$(grep -c . "$T/$1.log")
  check $([[ $n == "$2" && -z $bad ]]; echo $?) "$1: $n well-formed lines (want $2)${bad:+; bad: $bad}"
}
run predict_args 0 30 predict --checkpoint "$CKPT" "$POS" "$NEG"
expect_status predict_args 0
well_formed predict_args 2
printf '%s\n' "$POS" >"$T/pos.txt"
printf '%s\n' "$NEG" >"$T/neg.txt"
run predict_files 0 30 predict --checkpoint "$CKPT" --file "$T/pos.txt" --file "$T/neg.txt"
expect_status predict_files 0
well_formed predict_files 2
printf '%s\n%s\n\n%s\n' "$POS" "$NEG" "just ok" >"$T/stdin.txt"
# Not through run: a background job's stdin would be /dev/null.
timeout 30 "$RNN_DIST" predict --checkpoint "$CKPT" <"$T/stdin.txt" >"$T/predict_stdin.log" 2>&1
STATUS=$? TIMED_OUT=0
expect_status predict_stdin 0
well_formed predict_stdin 3
cut -f1,2 "$T/predict_args.log" >"$T/args.p"
head -n2 "$T/predict_stdin.log" | cut -f1,2 >"$T/stdin.p"
cut -f1,2 "$T/predict_files.log" >"$T/files.p"
cmp -s "$T/args.p" "$T/stdin.p" && cmp -s "$T/args.p" "$T/files.p"
check $? "predict: the same reviews score alike from arguments, --file and stdin: $(tr '\n\t' '; ' <"$T/args.p")"
run predict_again 0 30 predict --checkpoint "$CKPT" "$POS" "$NEG"
cmp -s "$T/predict_args.log" "$T/predict_again.log"
check $? "predict: the same input twice gives the same output"
# After one short epoch (about 70% val acc) only the order of the two is asserted.
p_pos=$(sed -n 1p "$T/args.p" | cut -f1) p_neg=$(sed -n 2p "$T/args.p" | cut -f1)
awk -v a="$p_pos" -v b="$p_neg" 'BEGIN { exit !(a > b) }'
check $? "predict: the positive review scores above the negative one ($p_pos > $p_neg)"

echo "== a bad checkpoint: one error line, exit status 1, no hang"
head -c 5000 "$CKPT" >"$T/cut.rnnd"
errors() { grep -c '^rnn_dist: error:' "$T/$1.log"; }
for np in 0 2; do
  run "bad_eval_$np" "$np" 60 evaluate --checkpoint "$T/cut.rnnd" --split val --data "$DATA"
  expect_status "bad_eval_$np" 1
  expect_output "bad_eval_$np" "^rnn_dist: error: checkpoint $T/cut.rnnd is truncated \\(5000 bytes\\)"
  check $([[ $(errors "bad_eval_$np") == 1 ]]; echo $?) "bad_eval_$np: exactly one error line"
  expect_faster "bad_eval_$np" 20
done
run bad_predict 0 30 predict --checkpoint "$T/cut.rnnd" "$POS"
expect_status bad_predict 1
expect_output bad_predict "^rnn_dist: error: checkpoint $T/cut.rnnd is truncated"
check $([[ $(grep -c . "$T/bad_predict.log") == 1 ]]; echo $?) "bad_predict: one line of output"
run foreign_predict 0 30 predict --checkpoint "$T/train/history.csv" "$POS"
expect_status foreign_predict 1
expect_output foreign_predict "^rnn_dist: error: $T/train/history.csv is not an rnn_dist checkpoint$"
# Data of another vocabulary (a tiny aclImdb, prepared on the way): a usage error, agreed by
# both ranks (one line, status 2).
for d in train/pos train/neg test/pos test/neg; do
  mkdir -p "$T/tiny/aclImdb/$d"
  echo "another review of $d" >"$T/tiny/aclImdb/$d/1_5.txt"
done
run foreign_eval 2 30 evaluate --checkpoint "$CKPT" --data "$T/tiny/aclImdb"
expect_status foreign_eval 2
expect_output foreign_eval "^rnn_dist: error: the vocabulary of $T/tiny/aclImdb.rnn_dist differs from the one $CKPT was trained with"
check $([[ $(errors foreign_eval) == 1 ]]; echo $?) "foreign_eval: exactly one error line"
run missing_eval 2 30 evaluate --checkpoint "$T/none.rnnd" --data "$DATA"
expect_status missing_eval 2
expect_output missing_eval "^rnn_dist: error: --checkpoint $T/none.rnnd: no such file"

ckpt_done
