#!/usr/bin/env bash
# slurm_basic.sh SRC RNN_DIST COMPARE DATA
#
# launch/slurm.sbatch under a real Slurm adapts to the allocation:
#   a1  1 node x 2 tasks, the script's defaults (--output-dir runs/slurm-JOBID in the submit
#       folder, --threads from --cpus-per-task, --resume auto): COMPLETED, exit 0, 2 ranks trained,
#       rank 0's "rnn_dist: started" line in the log once (the start-up limit's signal)
#   a2  2 nodes x 1 task, the user's own --output-dir=DIR, --threads 1, --resume auto and
#       --checkpoint-dir (each once on the command line: no "specified more than once"); mpirun
#       started its daemons on n1 and n2 through srun (step JOBID.0 on both slurmd)
source "$(dirname "${BASH_SOURCE[0]}")/slurm_lib.sh"
sl_init slurm_basic "$@"

ARGS=(--data "$DATA" --maxlen 100 --batch-size 48 --no-test --progress lines --epochs 2
      --max-steps 450)

echo "== a1: 1 node x 2 tasks, the script's defaults"
sl_submit a1 --nodes=1 --ntasks=2 -- "${ARGS[@]}" || { sl_done; exit; }
j1=$JOB
sl_wait "$j1" 120
sl_expect_done a1 0
sl_expect_log a1 'ranks: 2 on ' "two ranks"
n=$(grep -c '^rnn_dist: started 2 ranks on 1 host$' "$T/a1.log")
check $([[ $n == 1 ]]; echo $?) "a1: rank 0's start line, once ($n), disarmed the start-up limit"
sl_expect_log a1 "slurm.sbatch: job $j1 \(restart 0\): 2 rank\(s\) on n[12], 1 CPU"
out=$T/runs/slurm-$j1
check $([[ -s $out/checkpoints/ckpt-0000000450.rnnd ]]; echo $?) \
  "a1: default --output-dir $out has the step-450 checkpoint"
grep -q '^1,' "$out/history.csv" 2>/dev/null
check $? "a1: $out/history.csv has epoch 1 (417 steps of 450 trained)"
sl_expect_log a1 '^Epoch 2/2' "training went on into epoch 2"
check $([[ $(grep -c -- '--threads 1 --resume auto' "$T/a1.log") -ge 1 ]]; echo $?) \
  "a1: the script added --threads 1 --resume auto"

echo "== a2: 2 nodes x 1 task, the user's --output-dir=, --threads, --resume, --checkpoint-dir win"
sl_submit a2 --nodes=2 --ntasks-per-node=1 -- "${ARGS[@]}" --output-dir="$T/a2out" --threads 1 \
  --resume=auto --checkpoint-dir "$T/a2ckpt" || { sl_done; exit; }
j2=$JOB
sl_wait "$j2" 180
sl_expect_done a2 0
sl_expect_log a2 'ranks: 2 on ' "two ranks"
sl_expect_log a2 "slurm.sbatch: job $j2 \(restart 0\): 2 rank\(s\) on n\[1-2\]"
! grep -q 'specified more than once' "$T/a2.log"
check $? "a2: no 'cannot be specified more than once'"
cmd=$(grep -m1 '^slurm.sbatch: .*/rnn_dist ' "$T/a2.log")
for opt in --output-dir --threads --resume --checkpoint-dir; do
  n=$(grep -oE -- "$opt( |=)" <<<"$cmd" | wc -l)
  check $([[ $n == 1 ]]; echo $?) "a2: $opt once on the command line ($n)"
done
check $([[ -s $T/a2ckpt/ckpt-0000000450.rnnd && -s $T/a2out/history.csv ]]; echo $?) \
  "a2: the user's --checkpoint-dir and --output-dir= were used"
check $([[ ! -e $T/runs/slurm-$j2 ]]; echo $?) "a2: no default output folder runs/slurm-$j2"
for n in n1 n2; do
  grep -q "launch task StepId=$j2.0 " "$SL_STATE/log/slurmd.$n.log"
  check $? "a2: Open MPI's daemon step $j2.0 ran on $n (mpirun across the allocation via srun)"
done
[[ $STATE == COMPLETED ]] || sl_show a2

sl_done
