# shellcheck shell=bash
# Shared helpers of the interop tests (source it). Arguments of every test script:
#   RNN_DIST PREPARED_DATA ACLIMDB_DIR NODE_DIR
# The tests' models are small (--embed 8, 8 units, --num-words 2000, --maxlen 200) and briefly
# trained (a higher --lr, so that their probabilities spread away from 0.5): real weights on
# real reviews, with about half of the 200 reviews shorter than maxlen (padding exercised).
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/common.sh"
INTEROP_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

interop_init() {
  e2e_init "$1"
  RNN_DIST=$2 DATA=$3 IMDB=$4
  export NODE_PATH=$5/node_modules
  T=$E2E_TMP
  # 200 real test reviews: the first 100 positive and 100 negative files by name.
  REVIEWS=$T/reviews.txt
  for label in pos neg; do
    find "$IMDB/test/$label" -name '*.txt' | LC_ALL=C sort | head -n 100
  done >"$REVIEWS"
  FILE_ARGS=()
  while IFS= read -r f; do FILE_ARGS+=(--file "$f"); done <"$REVIEWS"
  check $([[ ${#FILE_ARGS[@]} -eq 400 ]]; echo $?) "200 real test reviews from $IMDB/test"
}

# train_small <name> <rnn_dist model options...>: a short real training run; CKPT is its
# checkpoint.
train_small() {
  local name=$1
  shift
  e2e_run "train_$name" 120 "$RNN_DIST" --data "$DATA" --embed 8 --num-words 2000 --maxlen 200 \
      --lr 0.01 --max-steps 25 --validation-split 0 --no-test --threads 1 -q \
      --output-dir "$T/train_$name" "$@"
  assert_status "train_$name" 0
  CKPT=$T/train_$name/checkpoints/ckpt-0000000025.rnnd
}

# predict_all <name> <checkpoint>: rnn_dist predict of the 200 reviews, 8 digits, into
# $T/<name>.predict.
predict_all() {
  e2e_run "predict_$1" 60 "$RNN_DIST" predict --checkpoint "$2" --digits 8 "${FILE_ARGS[@]}"
  assert_status "predict_$1" 0
  cp "$T/predict_$1.out" "$T/$1.predict"
}

# node_check <case> <expected predictions> --onnx FILE | --tfjs DIR: the checker's verdict
# (E2E_STATUS 0 = equal to 1e-5) and its line.
node_check() {
  local name=$1 expected=$2
  shift 2
  e2e_run "$name" 120 node "$INTEROP_SRC/check_export.js" --reviews "$REVIEWS" --expected "$expected" "$@"
  CHECK_LINE=$(grep -E '^(onnxruntime-node|tfjs|check_export):' "$T/$name.out" "$T/$name.err" -h | head -n 1)
}

# max_abs_diff <file> <file>: the largest |a - b| of the first columns, line by line ("inf" when
# the line counts differ).
max_abs_diff() {
  awk -F'\t' 'NR == FNR { a[FNR] = $1; n = FNR; next }
              { m = FNR; d = $1 - a[FNR]; if (d < 0) d = -d; if (d > worst) worst = d }
              END { if (m != n || n == 0) print "inf"; else printf "%.3g\n", worst + 0 }' "$1" "$2"
}
