#!/usr/bin/env bash
# --tensorboard, read back by an independent reader (tensorboard_check.py: Debian's
# python3-protobuf and python3-crc32c, proto/tensorboard.proto compiled by protoc here):
#   r    one process, 2 epochs: every record's two CRCs, every Event decodes, the epoch scalars
#        equal history.csv's; negative controls: one flipped byte, and the same file twice (the
#        steps repeat), each make the checker fail
#   s    mpirun -np 2, SIGTERM to the ranks mid-epoch (rank 0 held at step 13 by
#        RNN_DIST_FAULT=stop), then --resume auto: one file per run (rank 0 alone writes), every
#        tag's steps strictly increase across both, epoch scalars = history.csv, curves = r's
#   k    a job that dies 3 steps after its newest checkpoint (its events went on to step 21),
#        then --resume auto: the events after the checkpoint are removed, the curves are r's
#   bad  --tensorboard naming a file, or a folder that cannot be made: one line naming the
#        option and the path, status 2, on every rank, before training
#
#   tensorboard.sh RNN_DIST MPIRUN PREPARED_FILE SOURCE_DIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
source "$here/common.sh"
rnn_dist=$1 mpirun=$2 data=$3 src=$4
e2e_init tensorboard
PY=/usr/bin/python3

# 1,000 training reviews: 16 steps of 64 an epoch, 32 in all; running points every 3 steps.
ARGS=(--data "$data" --maxlen 100 --batch-size 64 --threads 1 --no-test --validation-split 0.96
      --epochs 2 --checkpoint-every 10 --tensorboard-every 3 --progress lines)
STEPS=(--steps 32 --every 3)

tb_check() {  # tb_check <case> <checker args...>: status of the checker, its output in the log
  local name=$1
  shift
  mkdir -p "$E2E_TMP/pb"
  timeout -k 5 60 "$PY" "$here/tensorboard_check.py" --proto "$src/proto/tensorboard.proto" \
      --scratch "$E2E_TMP/pb" "$@" >"$E2E_TMP/$name.check" 2>&1
  local status=$?
  sed 's/^/  | /' "$E2E_TMP/$name.check"
  return $status
}

rank_pids() {  # the rnn_dist processes (not mpirun, not timeout) of the run with output dir $1
  local pid
  for pid in $(pgrep -f -- "--output-dir $1( |\$)"); do
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == rnn_dist ]] && echo "$pid"
  done
  return 0
}

stopped_pids() {  # those of them in state T (SIGSTOPped)
  local pid
  for pid in $(rank_pids "$1"); do
    [[ $(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) == T ]] && echo "$pid"
  done
  return 0
}

echo "== r: one process, uninterrupted"
R=$E2E_TMP/r
e2e_run r 120 "$rnn_dist" "${ARGS[@]}" --output-dir "$R" --tensorboard "$R/tb"
assert_status r 0
assert_output r "^tensorboard: $R/tb/events\.out\.tfevents\.[0-9]{10}\.$(hostname)$"
tb_check r "$R/tb" --history "$R/history.csv" "${STEPS[@]}" --files 1
check $? "r: every record and scalar reads back, epoch scalars = history.csv"

mkdir -p "$E2E_TMP/flip"
file=$(ls "$R"/tb/events.out.tfevents.*)
cp "$file" "$E2E_TMP/flip/"
flipped=$E2E_TMP/flip/$(basename "$file")
offset=$(($(stat -c %s "$flipped") / 2))
byte=$(od -An -tu1 -j "$offset" -N1 "$flipped" | tr -d ' ')
printf "$(printf '\\%03o' $((byte ^ 1)))" | dd of="$flipped" bs=1 seek="$offset" conv=notrunc 2>/dev/null
! cmp -s "$file" "$flipped"
check $? "flip: byte $offset of a copy changed"
tb_check flip "$E2E_TMP/flip"
(($? != 0)) && grep -q "CRC mismatch" "$E2E_TMP/flip.check"
check $? "flip (negative control): the checker fails on one flipped byte, naming a CRC"
mkdir -p "$E2E_TMP/twice"
cp "$file" "$E2E_TMP/twice/events.out.tfevents.1.a"
cp "$file" "$E2E_TMP/twice/events.out.tfevents.2.a"
tb_check twice "$E2E_TMP/twice"
(($? != 0)) && grep -q "not strictly increasing" "$E2E_TMP/twice.check"
check $? "twice (negative control): the checker fails when the steps repeat across files"

echo "== s: mpirun -np 2, SIGTERM mid-epoch, --resume auto"
S=$E2E_TMP/s
RNN_DIST_FAULT=stop:0:13 timeout -k 5 120 "$mpirun" -np 2 "$rnn_dist" "${ARGS[@]}" \
  --output-dir "$S" --tensorboard "$S/tb" >"$E2E_TMP/s.out" 2>"$E2E_TMP/s.err" &
pid=$!
for _ in $(seq 900); do
  [[ -n $(stopped_pids "$S") ]] && break
  sleep 0.1
done
pids=($(rank_pids "$S"))
check $([[ ${#pids[@]} == 2 && -n $(stopped_pids "$S") ]]; echo $?) \
  "s: 2 ranks (${pids[*]}), rank 0 held at step 13 ($(stopped_pids "$S"))"
((${#pids[@]})) && kill -TERM "${pids[@]}" && kill -CONT "${pids[@]}"
wait "$pid"
E2E_STATUS=$?
assert_status s 3
assert_output s "stopping on request after global step 14 "
n=$(ls "$S/tb" | grep -c tfevents)
check $([[ $n == 1 ]]; echo $?) "s: one events file from 2 ranks (found $n): rank 0 alone writes"
e2e_run s.resume 120 "$mpirun" -np 2 "$rnn_dist" "${ARGS[@]}" --output-dir "$S" \
  --tensorboard "$S/tb" --resume auto
assert_status s.resume 0
assert_output s.resume "resumed from .*ckpt-0000000014.rnnd"
tb_check s "$S/tb" --history "$S/history.csv" "${STEPS[@]}" --files 2 --same-as "$R/tb"
check $? "s: 2 files, steps strictly increasing, epoch scalars = history.csv, curves = r's"

echo "== k: the job dies 3 steps after its checkpoint, --resume auto"
K=$E2E_TMP/k
RNN_DIST_FAULT=exit:0:23 e2e_run k 120 "$rnn_dist" "${ARGS[@]}" --output-dir "$K" --tensorboard "$K/tb"
assert_status k nonzero
tb_check k.before "$K/tb" --files 1
grep -q "batch_loss 7 points (steps 3..21)" "$E2E_TMP/k.before.check"
check $? "k: before the resume the events reach step 21, past the checkpoint at step 20"
e2e_run k.resume 120 "$rnn_dist" "${ARGS[@]}" --output-dir "$K" --tensorboard "$K/tb" --resume auto
assert_status k.resume 0
assert_output k.resume "resumed from .*ckpt-0000000020.rnnd"
tb_check k "$K/tb" --history "$K/history.csv" "${STEPS[@]}" --files 2 --same-as "$R/tb"
check $? "k: step 21 removed from the old file, SessionLog START at 21, curves = r's"
grep -q "SessionLog START at steps \[21\]" "$E2E_TMP/k.check"
check $? "k: the new file starts with SessionLog START at step 21"

echo "== bad: --tensorboard naming a file, or a folder that cannot be made"
touch "$E2E_TMP/a_file"
e2e_run bad_file 60 "$mpirun" -np 2 "$rnn_dist" "${ARGS[@]}" --output-dir "$E2E_TMP/bad1" \
  --tensorboard "$E2E_TMP/a_file"
assert_status bad_file 2
# Rank 0 alone writes there, so it alone checks the folder and names itself; the ranks agree on
# the outcome and all end with status 2.
n=$(grep -c "^rnn_dist: error: " "$E2E_TMP/bad_file.err")
check $([[ $n == 1 ]]; echo $?) "bad_file: one error line (found $n)"
assert_output bad_file "^rnn_dist: error: rank 0 \(.*\): --tensorboard $E2E_TMP/a_file: cannot create the folder"
check $([[ ! -s $E2E_TMP/a_file && ! -e $E2E_TMP/bad1/history.csv ]]; echo $?) \
  "bad_file: nothing written (the file empty, no history.csv)"
e2e_run bad_dir 60 "$rnn_dist" "${ARGS[@]}" --output-dir "$E2E_TMP/bad2" \
  --tensorboard "$E2E_TMP/a_file/tb"
assert_status bad_dir 2
assert_output bad_dir "^rnn_dist: error: --tensorboard $E2E_TMP/a_file/tb: cannot create the folder"
assert_no_leftovers tensorboard
e2e_finish
