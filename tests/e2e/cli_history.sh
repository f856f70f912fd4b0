#!/usr/bin/env bash
# cli_history.sh <rnn_dist> <mpirun> <prepared data file> <launch/plot_history.py>
#
# Rank 0's metric history: a 3-epoch run leaves history.csv (a header and exactly 3 rows) and
# history.jsonl (3 objects, the same numbers); a crash in epoch 2 leaves exactly the finished
# epoch 1, intact; launch/plot_history.py draws the two Keras-tutorial figures from it, and
# refuses a missing, empty or malformed CSV with one line and status 1. --plot runs it at the end.
BIN=$1
MPIRUN=$2
DATA=$3
PLOT=$4
source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
need_data "$DATA"
PY=/usr/bin/python3
HEADER="epoch,loss,acc,val_loss,val_acc,seconds,examples_per_second"

# valid_history <dir> <rows>: history.csv and history.jsonl hold exactly epochs 1..rows, every
# field a finite number (acc in [0, 1]), and the same numbers in both files.
valid_history() {
  "$PY" - "$1" "$2" "$HEADER" <<'EOF'
import json, math, sys
folder, rows, header = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lines = open(f"{folder}/history.csv").read().split("\n")
assert lines[-1] == "", "history.csv does not end with a newline"
lines = lines[:-1]
assert lines[0] == header, f"header is {lines[0]!r}"
assert len(lines) == rows + 1, f"{len(lines) - 1} rows, expected {rows}"
names = header.split(",")
jsonl = open(f"{folder}/history.jsonl").read().splitlines()
assert len(jsonl) == rows, f"history.jsonl has {len(jsonl)} lines, expected {rows}"
for i, (line, js) in enumerate(zip(lines[1:], jsonl), start=1):
    row = dict(zip(names, map(float, line.split(","))))
    assert len(line.split(",")) == len(names), f"row {i}: {line!r}"
    assert row["epoch"] == i, f"row {i} has epoch {row['epoch']}"
    assert all(math.isfinite(v) for v in row.values()), f"row {i}: {line!r}"
    assert 0 <= row["acc"] <= 1 and 0 <= row["val_acc"] <= 1, f"row {i}: {line!r}"
    obj = json.loads(js)
    assert list(obj) == names, f"history.jsonl line {i} keys {list(obj)}"
    assert all(float(obj[k]) == row[k] for k in names), f"line {i}: {js!r} differs from {line!r}"
EOF
}

# ---- 1. Three epochs (and --plot) -----------------------------------------------------------
H="$SCRATCH/h"
start=$(date +%s)
timeout 120 "$BIN" --data "$DATA" "${SMALL_RUN[@]}" --epochs 3 --plot --output-dir "$H" \
    >"$SCRATCH/h.out" 2>&1
status=$?
check "3-epoch run exits 0 (status $status, $(($(date +%s) - start)) s)" test $status -eq 0
((status == 0)) || show "$SCRATCH/h.out" "output of the 3-epoch run"
check "history.csv header is '$HEADER'" test "$(head -n1 "$H/history.csv")" = "$HEADER"
check "history.csv: header + exactly 3 rows; history.jsonl: 3 lines, the same numbers" valid_history "$H" 3
check "no temporary file left in the output folder" \
    test -z "$(find "$H" -maxdepth 1 -name '*.tmp' -print -quit)"
check "--plot drew accuracy.png and loss.png next to history.csv" test -s "$H/accuracy.png" -a -s "$H/loss.png"

# ---- 2. A crash in epoch 2 keeps epoch 1 ------------------------------------------------------
# Steps per epoch = ceil(training examples / global batch); the fault fires on rank 0 before a
# global step in the middle of epoch 2.
train=$(sed -n -E 's/^data: .* \(([0-9]+) train, .*/\1/p' "$SCRATCH/h.out")
steps=$(((train + 63) / 64))
fault_step=$((steps + steps / 2))
C="$SCRATCH/crash"
timeout 120 env RNN_DIST_FAULT="throw:0:$fault_step" \
    "$MPIRUN" -np 2 "$BIN" --data "$DATA" "${SMALL_RUN[@]}" --epochs 3 --output-dir "$C" \
    >"$SCRATCH/crash.out" 2>"$SCRATCH/crash.err"
status=$?
check "crash at global step $fault_step ($steps steps per epoch): non-zero status ($status), not a timeout" \
    test $status -ne 0 -a $status -ne 124
check "the crash happened in epoch 2 ('Epoch 2/3' printed, no 'Epoch 3/3')" \
    bash -c "grep -qx 'Epoch 2/3' '$SCRATCH/crash.out' && ! grep -q 'Epoch 3/3' '$SCRATCH/crash.out'"
check "the job's error names the injected fault" grep -q 'injected fault' "$SCRATCH/crash.err"
check "after the crash history.csv holds exactly epoch 1, intact (and history.jsonl the same)" \
    valid_history "$C" 1
check "no temporary file left after the crash" \
    test -z "$(find "$C" -maxdepth 1 -name '*.tmp' -print -quit)"

# ---- 3. plot_history.py -------------------------------------------------------------------------
# png_ok <file>: PNG signature and more than 5 kB.
png_ok() {
  [[ $(head -c 8 "$1" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] && (($(stat -c %s "$1") > 5000))
}
"$PLOT" "$H/history.csv" "$SCRATCH/plots" >"$SCRATCH/plot.out" 2>&1
status=$?
check "plot_history.py on the 3-epoch history exits 0 (status $status)" test $status -eq 0
((status == 0)) || show "$SCRATCH/plot.out" "plot_history.py output"
for png in accuracy loss; do
  check "$png.png is a PNG of more than 5 kB ($(stat -c %s "$SCRATCH/plots/$png.png" 2>/dev/null) bytes)" \
      png_ok "$SCRATCH/plots/$png.png"
done
"$PLOT" "$C/history.csv" >"$SCRATCH/plot_crash.out" 2>&1
both_png() { png_ok "$1/accuracy.png" && png_ok "$1/loss.png"; }
check "plot_history.py on the crashed run's 1-epoch history: both PNGs in the CSV's folder" both_png "$C"

# No validation split: empty val_loss and val_acc columns draw the training curves alone.
printf '%s\n1,0.69,0.52,,,2.0,5000\n2,0.60,0.70,,,2.0,5000\n' "$HEADER" >"$SCRATCH/noval.csv"
"$PLOT" "$SCRATCH/noval.csv" "$SCRATCH/noval" >"$SCRATCH/noval.out" 2>&1
status=$?
check "plot_history.py draws a history without validation columns (status $status)" \
    both_png "$SCRATCH/noval"

# bad_csv <name> <error regex> <csv file>: status 1, one line on stderr naming the problem.
bad_csv() {
  local name=$1 want=$2 csv=$3 status lines
  "$PLOT" "$csv" "$SCRATCH/bad_$name" >"$SCRATCH/bad_$name.out" 2>"$SCRATCH/bad_$name.err"
  status=$?
  lines=$(wc -l <"$SCRATCH/bad_$name.err")
  if ((status == 1 && lines == 1)) && grep -Eq "^plot_history.py: error: .*$want" "$SCRATCH/bad_$name.err" &&
     [[ ! -e $SCRATCH/bad_$name/accuracy.png ]]; then
    pass "plot_history.py, $name: status 1, $(cat "$SCRATCH/bad_$name.err")"
  else
    fail "plot_history.py, $name: status $status, $lines stderr line(s), expected 1 and /$want/"
    show "$SCRATCH/bad_$name.err" "stderr"
  fi
}
bad_csv missing "cannot read .*: No such file" "$SCRATCH/nonexistent.csv"
: >"$SCRATCH/empty.csv"
bad_csv empty "is empty" "$SCRATCH/empty.csv"
printf '%s\n' "$HEADER" >"$SCRATCH/header_only.csv"
bad_csv header_only "no epoch rows" "$SCRATCH/header_only.csv"
printf 'epoch,loss\n1,0.5\n' >"$SCRATCH/columns.csv"
bad_csv missing_columns "lacks column\(s\) acc, val_loss, val_acc" "$SCRATCH/columns.csv"
printf '%s\n1,0.69,oops,0.6,0.6,2.0,5000\n' "$HEADER" >"$SCRATCH/text.csv"
bad_csv not_a_number ":2: acc 'oops' is not a number" "$SCRATCH/text.csv"
printf '%s\n1,0.69,0.52\n' "$HEADER" >"$SCRATCH/short.csv"
bad_csv short_row ":2: 3 fields, the header has 7" "$SCRATCH/short.csv"

finish
