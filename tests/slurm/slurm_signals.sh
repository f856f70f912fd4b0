#!/usr/bin/env bash
# slurm_signals.sh SRC RNN_DIST COMPARE DATA
#
# A stop request to the batch shell ends in a stop checkpoint, status 3, a requeue (Restarts=1)
# and a resumed run whose final checkpoint equals an uninterrupted run's (same 2 ranks on one
# node, tolerance 0):
#   ref   uninterrupted, $LONG global steps (checkpoints every 500 steps kept)
#   tl    $LONG steps, the time-limit warning: --time=1 --signal=B:USR1@59. slurmctld looks at
#         time limits every 30 s, so the warning comes 1-31 s after the start (the run lasts about
#         45 s here); while the requeued job waits its time limit is raised, so that the resumed
#         run is not warned again. Final checkpoint vs ref's.
#   term  $SHORT steps, scancel --batch --signal=TERM once the step-500 checkpoint exists;
#         final checkpoint vs ref's checkpoint at step $SHORT
#   usr1  the same with scancel --batch --signal=USR1
# Every stopped run must resume from the checkpoint at the step where it stopped (nothing lost).
source "$(dirname "${BASH_SOURCE[0]}")/slurm_lib.sh"
sl_init slurm_signals "$@"

LONG=${SL_LONG_STEPS:-15000} SHORT=${SL_SHORT_STEPS:-3000}
ckpt() { printf 'ckpt-%010d.rnnd' "$1"; }
ARGS=(--data "$DATA" --maxlen 100 --batch-size 48 --no-test --progress lines --epochs 40
      --checkpoint-every 500 --keep 100)

echo "== ref: uninterrupted, $LONG steps, 1 node x 2 tasks"
sl_submit ref --nodes=1 --ntasks=2 -- "${ARGS[@]}" --max-steps "$LONG" --output-dir "$T/ref" ||
  { sl_done; exit; }
sl_wait "$JOB" 300
sl_expect_done ref 0
check $([[ -s $T/ref/checkpoints/$(ckpt "$LONG") && -s $T/ref/checkpoints/$(ckpt "$SHORT") ]]; echo $?) \
  "ref: checkpoints at steps $SHORT and $LONG"
echo "  ref took ${WAITED}s from submission"

# stopped NAME JOB SIGNAL: the checks of a stop, a requeue and the resumed run (after sl_wait).
stopped() {  # stopped NAME JOB SIGNAL STEPS
  local name=$1 job=$2 sig=$3 steps=$4 step stop
  sl_expect_done "$name" 1
  sl_expect_log "$name" "slurm.sbatch: SIG$sig at .*: asking every rank to stop after a checkpoint" \
    "the batch shell got SIG$sig"
  step=$(grep -m1 -Eo 'stopping on request after global step [0-9]+' "$T/$name.log" | grep -Eo '[0-9]+$')
  stop=$(printf 'ckpt-%010d.rnnd' "${step:-0}")
  check $([[ -n $step && $step -lt $steps ]]; echo $?) \
    "$name: stopped inside the run, after global step ${step:-none} (< $steps)"
  sl_expect_log "$name" '^slurm.sbatch: rnn_dist exit status 3 ' "status 3 after the stop"
  sl_expect_log "$name" "^slurm.sbatch: stopped after a checkpoint: requeueing job $job"
  sl_expect_log "$name" "^slurm.sbatch: job $job \(restart 1\)" "the requeued run"
  sl_expect_log "$name" "resumed from .*$stop" "resumed at the stop step, nothing lost"
  n=$(grep -c 'stopping on request' "$T/$name.log")
  check $([[ $n == 1 ]]; echo $?) "$name: one stop ($n), the resumed run went to the end"
  sl_same_checkpoint "$name: final checkpoint vs ref's at step $steps (tolerance 0)" \
    "$T/ref/checkpoints/$(ckpt "$steps")" "$T/$name/checkpoints/$(ckpt "$steps")"
  [[ $STATE == COMPLETED ]] || sl_show "$name" 40
}

raise_limit() {  # hold hook: the requeued run is not warned again
  timeout 10 scontrol update JobId="$1" TimeLimit=10 >/dev/null 2>&1
}

echo "== tl: time-limit warning (--time=1 --signal=B:USR1@59)"
sl_submit tl --nodes=1 --ntasks=2 --time=1 --signal=B:USR1@59 -- "${ARGS[@]}" --max-steps "$LONG" \
  --output-dir "$T/tl" || { sl_done; exit; }
sl_wait "$JOB" 300 raise_limit
stopped tl "$JOB" USR1 "$LONG"

for sig in TERM USR1; do
  name=$(tr 'A-Z' 'a-z' <<<"$sig")
  echo "== $name: scancel --batch --signal=$sig after the step-500 checkpoint"
  sl_submit "$name" --nodes=1 --ntasks=2 -- "${ARGS[@]}" --max-steps "$SHORT" --output-dir "$T/$name" ||
    continue
  job=$JOB
  if sl_wait_file "$T/$name/checkpoints/$(ckpt 500)" 120; then
    t0=$EPOCHREALTIME
    timeout 10 scancel --batch --signal="$sig" "$job"
    echo "  sent scancel --batch --signal=$sig $job"
    # Time from the signal to the requeue (the job leaves RUNNING).
    for _ in $(seq 600); do
      [[ $(sl_field "$job" JobState) != RUNNING ]] && break
      sleep 0.1
    done
    echo "  $name: $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')s from the signal to JobState $(sl_field "$job" JobState) ($(sl_field "$job" Reason))"
  else
    check 1 "$name: no step-500 checkpoint within 120 s"
  fi
  sl_wait "$job" 240
  stopped "$name" "$job" "$sig" "$SHORT"
done

sl_done
