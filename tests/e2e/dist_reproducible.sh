#!/usr/bin/env bash
# dist_reproducible: training is bit-identical whatever the number of ranks and threads per rank.
#
# Usage: dist_reproducible.sh <mpirun> <rnn_dist> <compare_checkpoints> <prepared data file>
#
# Every global batch is cut into fixed micro-batches (--micro-batch, by position in the global
# batch) whose gradients, and the metric and evaluation sums, are added up exactly (int64 fixed
# point), so where a micro-batch is computed does not change a bit. "The same" below means: the
# sha256 of the final checkpoint's parameters and optimizer slots (compare_checkpoints --dump
# --optimizer; the whole file records the world size), the epoch lines' "N/M ... loss: - acc: -
# val_loss: - val_acc:" parts (time and examples/s stripped), and history.csv / history.jsonl
# without their seconds and examples_per_second columns, all byte-identical.
#   a  default LSTM (maxlen 200), 260 global steps (157 per epoch: the epoch end and a partial
#      epoch, each validated) on P = 1, 2, 3, 4, 8 x --threads 1, 2; val_acc >= 0.6
#   b  GRU, SimpleRNN, a 2-layer LSTM stack and a masked (bucketed) LSTM, --batch-size 90
#      (micro-batches of 16, and of 10 for the stack; an epoch's last batch of 10 examples), on
#      P x threads = 1x1, 3x2, 5x1, 2x4 / 1x1, 4x2 / 1x1, 2x2, 7x1 / 1x1, 3x4
#   c  SIGTERM to both ranks of a P = 2 run at a random step (its rank 1 is held there with the
#      `stop` fault so the step is known), exit 3, then --resume auto on P = 3 --threads 2: the
#      same as a's P = 1 run
#   d  early stopping (patience 1) on a 1,200-review copy of aclImdb: the same epoch on P = 1 and 4
#   e  negative control: RNN_DIST_GRADIENT_SUM=float (a plain float sum) on P = 1 vs 3 must give
#      DIFFERENT parameters, so the comparisons above can fail
# Runtime: about 105 s under ctest on the 2-core VM (2026-12-01; 38 runs of 1-6 s); every run is
# bounded by a hard timeout of 120 s. Against the binary before the exact sum (727db32), a, b, c
# and d fail (the state sha256 differs for every P and --threads, the printed metrics in their
# last digits) and e passes.
source "$(dirname "$0")/common.sh"
MPIRUN=$1 RNN_DIST=$2 COMPARE=$3 DATA=$4
e2e_init dist_reproducible
HARD=120  # per run, s

# train <case> <output dir> <ranks> <threads> <options...>: one run under mpirun, output in
# $E2E_TMP/<case>.out/.err (oversubscribed above 2 ranks: the machine has 2 cores).
train() {
  local name=$1 dir=$2 np=$3 threads=$4
  shift 4
  local over=()
  ((np > 2)) && over=(--oversubscribe)
  e2e_run "$name" "$HARD" "$MPIRUN" -np "$np" "${over[@]}" "$RNN_DIST" --threads "$threads" \
      --output-dir "$dir" "$@"
}

# The epoch lines of a run with validation, "157/157 loss: .. - acc: .. - val_loss: .. - val_acc:
# ..": the step count and the metrics, not the time and examples/s fields.
epoch_lines() {
  sed -nE 's#^([0-9]+/[0-9]+) - .* - (loss: [^ ]+ - acc: [^ ]+ - val_loss: [^ ]+ - val_acc: [^ ]+)$#\1 \2#p' \
      "$E2E_TMP/$1.out"
}

# history.csv then history.jsonl of an output folder, without the timing columns.
history_without_timing() {
  awk -F, 'FNR == 1 { for (i = 1; i <= NF; i++) keep[i] = ($i != "seconds" && $i != "examples_per_second") }
    { s = ""; for (i = 1; i <= NF; i++) if (keep[i]) s = s (s == "" ? "" : ",") $i; print s }' \
      "$1/history.csv"
  sed -E 's/, "(seconds|examples_per_second)": [^,}]*//g' "$1/history.jsonl"
}

# sha256 of a checkpoint's parameters and optimizer slots as stored ("unreadable" if not).
state_sha() {
  local sha
  sha=$(timeout -k 5 60 "$COMPARE" --dump "${1:-missing}" --optimizer | sha256sum) || sha=unreadable
  echo "${sha%% *}"
}

# record <case> <output dir> <final step>: the run must have exited 0 with a checkpoint of
# <final step>; keeps its fingerprint in $E2E_TMP/<case>.{ckpt,sha,lines,hist}.
record() {
  local name=$1 dir=$2 step=$3 ckpt
  assert_status "$name" 0
  ckpt=$(checkpoint_of "$name")
  [[ $ckpt == */ckpt-$(printf '%010d' "$step").rnnd ]]
  check $? "$name: final checkpoint ${ckpt:-none} (want step $step)"
  echo "$ckpt" >"$E2E_TMP/$name.ckpt"
  state_sha "$ckpt" >"$E2E_TMP/$name.sha"
  epoch_lines "$name" >"$E2E_TMP/$name.lines"
  history_without_timing "$dir" >"$E2E_TMP/$name.hist" 2>&1
  echo "  [$name] state sha256 $(cut -c1-16 "$E2E_TMP/$name.sha").., last epoch line: $(tail -n 1 "$E2E_TMP/$name.lines")"
  assert_no_leftovers "$name"
}

# same_file <what> <reference file> <file>: byte-identical and not empty; else the diff.
same_file() {
  if [[ -s $2 ]] && cmp -s "$2" "$3"; then
    check 0 "$1: identical ($(wc -l <"$3") line(s))"
  else
    check 1 "$1: differ (< reference, > this run)"
    diff "$2" "$3" | head -n 8 | sed 's/^/  | /'
  fi
}

# same_run <reference case> <case> [lines]: the same final state, history and epoch lines
# (with `last`: only the last epoch line, for a resumed run that printed fewer).
same_run() {
  local ref=$1 name=$2 what="$2 vs $1"
  local a b
  a=$(cat "$E2E_TMP/$ref.sha") b=$(cat "$E2E_TMP/$name.sha")
  if [[ $a =~ ^[0-9a-f]{64}$ && $a == "$b" ]]; then
    check 0 "$what: parameters + optimizer state identical (sha256 ${a:0:16}..)"
  else
    check 1 "$what: parameters + optimizer state differ (sha256 ${a:0:16}.. vs ${b:0:16}..)"
    # The first tensors that differ, and by how much.
    timeout -k 5 60 "$COMPARE" "$(cat "$E2E_TMP/$ref.ckpt")" "$(cat "$E2E_TMP/$name.ckpt")" \
        --optimizer 2>&1 | grep -v '= 0$' | head -n 4 | sed 's/^/  | /'
  fi
  same_file "$what: history without timing" "$E2E_TMP/$ref.hist" "$E2E_TMP/$name.hist"
  if [[ ${3:-} == last ]]; then
    tail -n 1 "$E2E_TMP/$ref.lines" >"$E2E_TMP/$ref.last"
    tail -n 1 "$E2E_TMP/$name.lines" >"$E2E_TMP/$name.last"
    same_file "$what: last epoch line" "$E2E_TMP/$ref.last" "$E2E_TMP/$name.last"
  else
    same_file "$what: epoch lines" "$E2E_TMP/$ref.lines" "$E2E_TMP/$name.lines"
  fi
}

# expect_epochs <case> <"N/M N/M ..">: the step counts of the run's epoch lines.
expect_epochs() {
  local got
  got=$(cut -d' ' -f1 "$E2E_TMP/$1.lines" | paste -sd' ')
  [[ $got == "$2" ]]
  check $? "$1: epoch lines '$got' (want '$2': a full epoch and a partial one, both validated)"
}

echo "== a: default LSTM, 260 steps, P = 1 2 3 4 8 x --threads 1 2"
LSTM=(--data "$DATA" --maxlen 200 --no-test --seed 1337 --progress lines)
A=("${LSTM[@]}" --max-steps 260)
for np in 1 2 3 4 8; do
  for t in 1 2; do
    extra=()
    ((np == 3 && t == 2)) && extra=(--check-replicas)
    train "a_np${np}_t$t" "$E2E_TMP/a_np${np}_t$t" "$np" "$t" "${A[@]}" "${extra[@]}"
    record "a_np${np}_t$t" "$E2E_TMP/a_np${np}_t$t" 260
  done
done
expect_epochs a_np1_t1 "157/157 103/157"
acc=$(val_metrics a_np1_t1 | cut -d' ' -f2)
le 0.6 "${acc:-0}"
check $? "a_np1_t1: val_acc ${acc:-none} >= 0.6 after 260 steps (the model trained)"
for np in 1 2 3 4 8; do
  for t in 1 2; do
    [[ $np$t == 11 ]] || same_run a_np1_t1 "a_np${np}_t$t"
  done
done
# The epoch-end checkpoint as well (step 157, before the partial epoch).
sha157() { state_sha "$E2E_TMP/$1/checkpoints/ckpt-0000000157.rnnd"; }
ref157=$(sha157 a_np1_t1)
for run in a_np8_t2 a_np3_t1; do
  s=$(sha157 "$run")
  [[ $ref157 =~ ^[0-9a-f]{64}$ && $s == "$ref157" ]]
  check $? "$run vs a_np1_t1: epoch-end checkpoint (step 157) sha256 ${s:0:16}.. vs ${ref157:0:16}.."
done

echo "== b: GRU (both reset_after), SimpleRNN, a 2-layer LSTM stack, masked LSTM, --batch-size 90 (112 steps per epoch), 130 steps"
B=(--data "$DATA" --maxlen 200 --max-steps 130 --batch-size 90 --validation-split 0.6 --no-test
   --seed 7 --progress lines)
for run in gru:1:1 gru:3:2 gru:5:1 gru:2:4 simplernn:1:1 simplernn:4:2 stack:1:1 stack:2:2 \
           stack:7:1 masked:1:1 masked:3:4 grurb:1:1 grurb:3:2; do
  IFS=: read -r model np t <<<"$run"
  layers=(--layers "$model:32")
  [[ $model == stack ]] && layers=(--layers "lstm:32,lstm:16" --micro-batch 10)
  [[ $model == masked ]] && layers=(--layers lstm:32 --mask-padding)
  [[ $model == grurb ]] && layers=(--layers gru:32:reset_after=false)
  name=b_${model}_np${np}_t$t
  train "$name" "$E2E_TMP/$name" "$np" "$t" "${B[@]}" "${layers[@]}"
  record "$name" "$E2E_TMP/$name" 130
done
expect_epochs b_gru_np1_t1 "112/112 18/112"
expect_epochs b_stack_np1_t1 "112/112 18/112"
same_run b_gru_np1_t1 b_gru_np3_t2
same_run b_gru_np1_t1 b_gru_np5_t1
same_run b_gru_np1_t1 b_gru_np2_t4
same_run b_masked_np1_t1 b_masked_np3_t4
same_run b_simplernn_np1_t1 b_simplernn_np4_t2
same_run b_stack_np1_t1 b_stack_np2_t2
same_run b_stack_np1_t1 b_stack_np7_t1
same_run b_grurb_np1_t1 b_grurb_np3_t2

echo "== c: SIGTERM on P = 2 at a random step, --resume auto on P = 3 --threads 2"
K=$((30 + RANDOM % 201))
echo "  K = $K (random in 30..230): rank 1 holds itself (SIGSTOP) once $K steps are done"
# In the background: once a rank of run c is stopped, SIGTERM to both ranks (as srun sends it),
# then SIGCONT; they stop together at the next step boundary.
(
  for _ in $(seq 1200); do
    pids=() states=""
    for pid in $(pgrep -f -- "--output-dir $E2E_TMP/c( |\$)"); do
      [[ $(cat "/proc/$pid/comm" 2>/dev/null) == rnn_dist ]] || continue
      pids+=("$pid")
      states+=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)
    done
    if [[ ${#pids[@]} == 2 && $states == *T* ]]; then
      echo "  SIGTERM to ranks ${pids[*]} (states $states), then SIGCONT"
      kill -TERM "${pids[@]}"
      sleep 0.2
      kill -CONT "${pids[@]}"
      exit 0
    fi
    sleep 0.05
  done
  echo "  no stopped rank of run c within 60 s"
) &
stopper=$!
RNN_DIST_FAULT=stop:1:$K train c "$E2E_TMP/c" 2 1 "${A[@]}"
wait "$stopper"
assert_status c 3
assert_output c 'stopping on request after global step [0-9]+ .*; checkpoint '
N=$(grep -Eo 'stopping on request after global step [0-9]+' "$E2E_TMP/c.out" "$E2E_TMP/c.err" |
    grep -Eo '[0-9]+$' | head -n 1)
((${N:-0} > 0 && ${N:-0} < 260)) && [[ -s $E2E_TMP/c/checkpoints/$(printf 'ckpt-%010d.rnnd' "${N:-0}") ]]
check $? "c: stopped after global step ${N:-?} of 260 (K = $K), its checkpoint written"
assert_no_leftovers c
train c.resume "$E2E_TMP/c" 3 2 "${A[@]}" --resume auto
assert_output c.resume "resumed from .*$(printf 'ckpt-%010d' "${N:-0}")"
record c.resume "$E2E_TMP/c" 260
same_run a_np1_t1 c.resume last

echo "== d: early stopping (patience 1) on 1,200 reviews, P = 1 vs 4"
small=$E2E_TMP/small/aclImdb
for split in train test; do
  n=600
  [[ $split == test ]] && n=100
  for label in pos neg; do
    mkdir -p "$small/$split/$label"
    find "$(dirname "$DATA")/aclImdb/$split/$label" -name '*.txt' | sort | head -n "$n" |
        xargs cp -t "$small/$split/$label"
  done
done
e2e_run prepare 60 "$RNN_DIST" prepare --data "$small" --out "$E2E_TMP/small.rnn_dist"
assert_status prepare 0
D=(--data "$E2E_TMP/small.rnn_dist" --maxlen 200 --batch-size 32 --epochs 30 --lr 0.005
   --early-stopping-patience 1 --min-delta 0.002 --no-test --seed 1337 --progress lines)
declare -A stopped_at
for np in 1 4; do
  train "d_np$np" "$E2E_TMP/d_np$np" "$np" 1 "${D[@]}"
  stopped_at[$np]=$(sed -n 's/^early stopping after epoch \([0-9]*\).*/\1/p' "$E2E_TMP/d_np$np.out")
  ((${stopped_at[$np]:-0} >= 3 && ${stopped_at[$np]:-99} < 30))
  check $? "d_np$np: early stopping after epoch ${stopped_at[$np]:-none} (want 3..29)"
  record "d_np$np" "$E2E_TMP/d_np$np" $((${stopped_at[$np]:-0} * 30))
done
[[ -n ${stopped_at[1]} && ${stopped_at[4]} == "${stopped_at[1]}" ]]
check $? "d: early stopping after the same epoch on P = 4 (${stopped_at[4]:-none}) and 1 (${stopped_at[1]:-none})"
same_run d_np1 d_np4

echo "== e: negative control, RNN_DIST_GRADIENT_SUM=float, P = 1 vs 3, 60 steps"
for np in 1 3; do
  RNN_DIST_GRADIENT_SUM=float train "e_np$np" "$E2E_TMP/e_np$np" "$np" 1 "${LSTM[@]}" --max-steps 60
  record "e_np$np" "$E2E_TMP/e_np$np" 60
done
e1=$(cat "$E2E_TMP/e_np1.sha") e3=$(cat "$E2E_TMP/e_np3.sha")
[[ $e1 =~ ^[0-9a-f]{64}$ && $e3 =~ ^[0-9a-f]{64}$ && $e1 != "$e3" ]]
check $? "e: with a float sum P = 3 and P = 1 end with DIFFERENT parameters (sha256 ${e3:0:16}.. vs ${e1:0:16}..)"

e2e_finish
