#!/usr/bin/env bash
# slurm_preempt.sh SRC RNN_DIST COMPARE DATA
#
# Slurm preemption (PreemptType=preempt/partition_prio, PreemptMode=REQUEUE, GraceTime on the
# low partition, SlurmctldParameters=preempt_send_user_signal): a low-priority training job on n1
# is preempted by a high-priority job that needs n1's CPUs. Slurm sends the job's own signal
# (slurm.sbatch's --signal=B:USR1) to the batch shell at once; the ranks stop at the next step
# boundary, rank 0 checkpoints, the job exits 3 and is requeued, the high job runs, and the
# requeued run resumes from the stop checkpoint: no step after the signal is lost (the resumed step
# equals the step at the stop), and the run completes with a final checkpoint equal to an
# uninterrupted run's.
source "$(dirname "${BASH_SOURCE[0]}")/slurm_lib.sh"
sl_init slurm_preempt "$@"

STEPS=${SL_STEPS:-3000}
ckpt() { printf 'ckpt-%010d.rnnd' "$1"; }
ARGS=(--data "$DATA" --maxlen 100 --batch-size 48 --no-test --progress lines --epochs 30
      --checkpoint-every 500 --keep 40 --max-steps "$STEPS")
grace=$(timeout 10 scontrol show partition low | grep -Eo 'GraceTime=[0-9]+' | cut -d= -f2)
echo "  partition low: GraceTime=${grace:-?} s"

echo "== ref: uninterrupted, $STEPS steps"
sl_submit ref --nodes=1 --ntasks=2 -- "${ARGS[@]}" --output-dir "$T/ref" || { sl_done; exit; }
sl_wait "$JOB" 200
sl_expect_done ref 0

echo "== low: partition low on n1, preempted by a partition-high job once the step-500 checkpoint exists"
sl_submit low --partition=low --nodelist=n1 --nodes=1 --ntasks=2 -- "${ARGS[@]}" --output-dir "$T/low" ||
  { sl_done; exit; }
low=$JOB
if sl_wait_file "$T/low/checkpoints/$(ckpt 500)" 120; then
  t0=$SECONDS
  high=$(cd "$T" && timeout 20 sbatch --parsable --job-name=rnn_dist_slurm_preempt_high --partition=high \
         --nodelist=n1 --nodes=1 --ntasks=2 --output="$T/high.log" \
         --wrap 'echo "high job $SLURM_JOB_ID started $(date +%T) on $SLURMD_NODENAME"; sleep 3')
  high=${high%%;*}
  [[ -n $high ]] && SL_JOBS+=("$high")
  echo "  submitted high-priority job $high on n1"
  low_states="" last=""
  for _ in $(seq 400); do
    s="$(sl_field "$low" JobState)/$(sl_field "$high" JobState)"
    [[ $s != "$last" ]] && { low_states+="${low_states:+ -> }low/high=$s@$((SECONDS - t0))s"; last=$s; }
    [[ $(sl_field "$high" JobState) == RUNNING || $(sl_field "$high" JobState) == COMPLETED ]] && break
    sleep 0.25
  done
  echo "  $low_states"
  started=$((SECONDS - t0))
  check $((started <= ${grace:-30} + 10 ? 0 : 1)) \
    "high: started ${started}s after submission (GraceTime ${grace:-?} s + 10)"
  sl_wait "$high" 60
  check $([[ $STATE == COMPLETED ]]; echo $?) "high: $STATE"
else
  check 1 "low: no step-500 checkpoint within 120 s"
fi
sl_wait "$low" 240
sl_expect_done low 1
sl_expect_log low 'slurm.sbatch: SIGUSR1 at .*: asking every rank to stop after a checkpoint' \
  "the batch shell got the job's --signal USR1 at preemption"
step=$(grep -m1 -Eo 'stopping on request after global step [0-9]+' "$T/low.log" | grep -Eo '[0-9]+$')
check $([[ -n $step && $step -ge 500 && $step -lt $STEPS ]]; echo $?) \
  "low: stopped at global step ${step:-none} (after the step-500 checkpoint, before $STEPS)"
sl_expect_log low '^slurm.sbatch: rnn_dist exit status 3 ' "status 3"
sl_expect_log low "^slurm.sbatch: job $low \(restart 1\)" "the requeued run"
resumed=$(grep -m1 -Eo 'resumed from .*ckpt-[0-9]+\.rnnd' "$T/low.log" | grep -Eo '[0-9]+\.rnnd$' | sed 's/\.rnnd//; s/^0*//')
check $([[ -n $step && ${resumed:-x} == "$step" ]]; echo $?) \
  "low: resumed at step ${resumed:-none} = the step at the signal (${step:-none}): nothing lost"
sl_same_checkpoint "low: final checkpoint vs ref (tolerance 0)" "$T/ref/checkpoints/$(ckpt "$STEPS")" \
  "$T/low/checkpoints/$(ckpt "$STEPS")"
grep -E "JobId=$low" "$SL_STATE/log/slurmctld.log" | grep -iE 'preempt|requeu' | head -n 5 | sed 's/^/  slurmctld: /'
[[ $STATE == COMPLETED ]] || sl_show low 40

sl_done
