#!/usr/bin/env bash
# cli_config.sh <rnn_dist> <mpirun> <prepared data file>
#
# --config FILE (INI, the options' names without dashes) sets options; the command line wins.
# Rank 0 stores the effective configuration in <output-dir>/config.ini, and `--config` of that
# file repeats the run: same seed, same metrics. Runs are single-process and short (one epoch of
# ~2,500 reviews of 50 tokens).
BIN=$1
MPIRUN=$2
DATA=$3
source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
need_data "$DATA"
PY=/usr/bin/python3

# ini_value <file> <key>: the value of `key = value` in an INI file.
ini_value() { sed -n -E "s/^$2 *= *(.*)$/\1/p" "$1"; }

# metric_columns <history.csv>: the loss, acc, val_loss, val_acc columns (seconds and speed vary).
metric_columns() { cut -d, -f1-5 "$1"; }

cat >"$SCRATCH/run.ini" <<EOF
# rnn_dist options for a short run
epochs = 1
batch-size = 64
maxlen = 50
validation-split = 0.9
threads = 1
seed = 7
no-test = true
EOF

# ---- 1. The INI file and one command-line override -----------------------------------------
A="$SCRATCH/a"
timeout 120 "$BIN" --config "$SCRATCH/run.ini" --data "$DATA" --batch-size 32 --output-dir "$A" \
    >"$SCRATCH/a.out" 2>"$SCRATCH/a.err"
status=$?
check "run A (--config run.ini --batch-size 32) exits 0 (status $status)" test $status -eq 0
((status == 0)) || show "$SCRATCH/a.err" "stderr of run A"
check "run A's header shows the override: 'batch: 32 global'" grep -q '^batch: 32 global' "$SCRATCH/a.out"
check "run A's header shows the file's epochs and seed: '1 epochs, seed 7'" \
    grep -q '; 1 epochs, seed 7$' "$SCRATCH/a.out"
check "run A's header shows the file's maxlen: 'maxlen 50'" grep -q '^data: .*maxlen 50,' "$SCRATCH/a.out"
check "run A ran one epoch: 'Epoch 1/1'" grep -q '^Epoch 1/1$' "$SCRATCH/a.out"
check "--no-test from the file: no test evaluation" bash -c "! grep -q '^test_loss' '$SCRATCH/a.out'"
for pair in batch-size=32 epochs=1 maxlen=50 validation-split=0.9 seed=7 threads=1 output-dir="$A"; do
  got=$(ini_value "$A/config.ini" "${pair%%=*}")
  check "A/config.ini: ${pair%%=*} = ${pair#*=} (got '$got')" test "$got" = "${pair#*=}"
done
check "A/history.csv has one epoch row" test "$(wc -l <"$A/history.csv")" -eq 2

# ---- 2. --config <output-dir>/config.ini repeats the run ---------------------------------------
B="$SCRATCH/b"
timeout 120 "$BIN" --config "$A/config.ini" --output-dir "$B" >"$SCRATCH/b.out" 2>"$SCRATCH/b.err"
status=$?
check "run B (--config A/config.ini) exits 0 (status $status)" test $status -eq 0
((status == 0)) || show "$SCRATCH/b.err" "stderr of run B"
check "run B's header shows 'batch: 32 global' from A's config.ini" grep -q '^batch: 32 global' "$SCRATCH/b.out"
check "B/config.ini equals A/config.ini but for output-dir" \
    diff <(grep -v '^output-dir' "$A/config.ini") <(grep -v '^output-dir' "$B/config.ini")
if metric_columns "$A/history.csv" >"$SCRATCH/a.metrics" && metric_columns "$B/history.csv" >"$SCRATCH/b.metrics" &&
   diff "$SCRATCH/a.metrics" "$SCRATCH/b.metrics" >/dev/null; then
  pass "run B reproduces run A's epoch,loss,acc,val_loss,val_acc: $(tail -n1 "$SCRATCH/b.metrics")"
else
  fail "run B's metrics differ from run A's"
  diff "$SCRATCH/a.metrics" "$SCRATCH/b.metrics"
fi

# ---- 3. config.ini is valid from anywhere and keeps every value exactly -----------------------
# One global step is enough to get config.ini. --data is given relative to its folder, the
# learning rate and validation split with more than 6 significant digits.
C="$SCRATCH/c"
(cd "$(dirname "$DATA")" &&
 timeout 120 "$BIN" --data "$(basename "$DATA")" --output-dir "$C" --max-steps 1 --threads 1 \
     --maxlen 50 --lr 0.00123456789 --validation-split 0.123456789 --no-test -q \
     >"$SCRATCH/c.out" 2>"$SCRATCH/c.err")
status=$?
check "run C (--max-steps 1) exits 0 (status $status)" test $status -eq 0
for pair in lr=0.00123456789 validation-split=0.123456789; do
  got=$(ini_value "$C/config.ini" "${pair%%=*}")
  check "C/config.ini keeps ${pair%%=*} exactly: ${pair#*=} (got '$got')" \
      "$PY" -c "import sys; sys.exit(float('$got' or 'nan') != float('${pair#*=}'))"
done
got=$(ini_value "$C/config.ini" data)
check "C/config.ini's data is an absolute path, usable from any folder (got '$got')" \
    test "${got:0:1}" = / -a -s "$got"

# ---- 4. A switch set to false in a file stays off ---------------------------------------------
printf 'no-test = false\n' >"$SCRATCH/test_on.ini"
timeout 120 "$BIN" --config "$SCRATCH/test_on.ini" --data "$DATA" --output-dir "$SCRATCH/d" \
    --maxlen 50 --batch-size 64 --validation-split 0.9 --threads 1 --epochs 1 -q >"$SCRATCH/d.out" 2>"$SCRATCH/d.err"
status=$?
check "run D ('no-test = false' in the file) exits 0 (status $status)" test $status -eq 0
check "'no-test = false' keeps the test evaluation: a test_loss line" grep -q '^test_loss: ' "$SCRATCH/d.out"

finish
