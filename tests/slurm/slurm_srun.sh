#!/usr/bin/env bash
# slurm_srun.sh SRC RNN_DIST COMPARE DATA
#
# RNN_DIST_LAUNCH=srun: slurm.sbatch starts the ranks with `srun --mpi=pmix` (Open MPI 4.1 finds
# Slurm's PMIx server; Debian 12's slurm-wlm has mpi/pmix_v4). When `srun --mpi=list` has no
# pmix the script must stop at once with one clear message (status 2); here it has, so:
#   d1  2 nodes x 1 task: 2 ranks train, COMPLETED, exit 0, step JOBID.0 on n1 and n2
#   d2  scancel --batch --signal=USR1: srun forwards the stop to the ranks: checkpoint, status 3,
#       requeue, resumed run completes equal to d1 (same steps, same 2 ranks); every rank exits
#       3 at about the same moment, and none may be killed for the other's exit status
#       (srun --wait, not --kill-on-bad-exit: once it gave status 143 and no requeue)
#   d3  rank 1 killed (-9): srun ends rank 0 within its --wait (10 s), the job FAILED
source "$(dirname "${BASH_SOURCE[0]}")/slurm_lib.sh"
sl_init slurm_srun "$@"
export RNN_DIST_LAUNCH=srun

STEPS=${SL_STEPS:-2000}
ckpt() { printf 'ckpt-%010d.rnnd' "$1"; }
ARGS=(--data "$DATA" --maxlen 100 --batch-size 48 --no-test --progress lines --epochs 30
      --checkpoint-every 250 --keep 40 --max-steps "$STEPS")

if ! timeout 10 srun --mpi=list 2>&1 | grep -qw pmix; then
  echo "== this Slurm has no pmix MPI plugin: the script must say so"
  sl_submit nopmix --nodes=1 --ntasks=2 -- "${ARGS[@]}" --output-dir "$T/nopmix" || { sl_done; exit; }
  sl_wait "$JOB" 60
  sl_expect_log nopmix 'RNN_DIST_LAUNCH=srun needs Slurm.s pmix MPI plugin' "the clear message"
  check $([[ $EXIT_CODE == 2:0 ]]; echo $?) "nopmix: exit code $EXIT_CODE (want 2:0)"
  sl_done
  exit
fi
echo "  srun --mpi=list: $(timeout 10 srun --mpi=list 2>&1 | tr '\n\t' '  ')"

echo "== d1: srun --mpi=pmix, 2 nodes x 1 task"
sl_submit d1 --nodes=2 --ntasks-per-node=1 -- "${ARGS[@]}" --output-dir "$T/d1" || { sl_done; exit; }
j=$JOB
sl_wait "$j" 120
sl_expect_done d1 0
sl_expect_log d1 'launch srun' "the srun launch"
sl_expect_log d1 'ranks: 2 on ' "two ranks"
for n in n1 n2; do
  grep -q "launch task StepId=$j.0 " "$SL_STATE/log/slurmd.$n.log"
  check $? "d1: rank step $j.0 ran on $n"
done
check $([[ -s $T/d1/checkpoints/$(ckpt "$STEPS") ]]; echo $?) "d1: final checkpoint $(ckpt "$STEPS")"

echo "== d2: srun launch, scancel --batch --signal=USR1 after the step-250 checkpoint"
sl_submit d2 --nodes=2 --ntasks-per-node=1 -- "${ARGS[@]}" --output-dir "$T/d2" || { sl_done; exit; }
j=$JOB
if sl_wait_file "$T/d2/checkpoints/$(ckpt 250)" 60; then
  timeout 10 scancel --batch --signal=USR1 "$j"
  echo "  sent scancel --batch --signal=USR1 $j"
else
  check 1 "d2: no step-250 checkpoint within 60 s"
fi
sl_wait "$j" 180
sl_expect_done d2 1
step=$(grep -m1 -Eo 'stopping on request after global step [0-9]+' "$T/d2.log" | grep -Eo '[0-9]+$')
check $([[ -n $step && $step -lt $STEPS ]]; echo $?) "d2: stopped after global step ${step:-none}"
sl_expect_log d2 '^slurm.sbatch: rnn_dist exit status 3 ' "status 3 through srun"
sl_expect_log d2 "resumed from .*$(ckpt "${step:-0}")" "resumed at the stop step"
sl_same_checkpoint "d2: final checkpoint vs d1 (tolerance 0)" "$T/d1/checkpoints/$(ckpt "$STEPS")" \
  "$T/d2/checkpoints/$(ckpt "$STEPS")"
[[ $STATE == COMPLETED ]] || sl_show d2 40

echo "== d3: srun launch, rank 1 killed (-9) at step 3: srun ends rank 0 within its --wait"
RNN_DIST_FAULT=kill:1:3@step sl_submit d3 --nodes=2 --ntasks-per-node=1 -- "${ARGS[@]}" \
    --output-dir "$T/d3" || { sl_done; exit; }
sl_wait "$JOB" 90
check "$([[ $STATE == FAILED && $EXIT_CODE != 0:0 ]]; echo $?)" "d3: job state $STATE, exit code $EXIT_CODE (want FAILED, non-zero)"
running=$(grep -oE 'RUNNING@[0-9]+s' <<<"$STATES" | head -n1 | grep -oE '[0-9]+')
check "$([[ -n $running ]] && ((WAITED - running <= 40)); echo $?)" \
  "d3: ended $((WAITED - ${running:-0})) s after it started running (srun --wait 10, at most 40)"
sl_expect_log d3 'task 1: Killed' "srun names the killed task"
! grep -q 'requeueing' "$T/d3.log"
check $? "d3: not requeued"
[[ $STATE == FAILED ]] || sl_show d3 30

sl_done
