#!/usr/bin/env bash
# slurm_start.sh SRC RNN_DIST COMPARE DATA
#
# launch/slurm.sbatch limits start-up (launch/start_limit.sh): neither mpirun nor srun limits its
# wait for every rank to start, and a job stuck there holds its allocation until its time limit.
# Here rank 1 hangs before it starts (tests/slurm/stuck_rank.sh: as on a hung file system; the
# real rnn_dist of rank 0 then waits in MPI_Init for it), with RNN_DIST_START_TIMEOUT=$LIMIT:
#   m1  the mpirun launch, 2 nodes x 1 task: the job ends FAILED with exit code 75:0 within
#       LIMIT + 20 s of its start, one line from slurm.sbatch naming the limit and the likely
#       cause, no requeue, no process of the job left;
#   m0  control: the same with the limit off (RNN_DIST_START_TIMEOUT=0) is still RUNNING LIMIT + 8 s
#       later (then cancelled);
#   s1  the same as m1 with RNN_DIST_LAUNCH=srun.
# (That a job whose ranks start is not touched by the limit: slurm_basic, the start line.)
source "$(dirname "${BASH_SOURCE[0]}")/slurm_lib.sh"
sl_init slurm_start "$@"
LIMIT=8
# The wrapper sits in $T so that its processes carry $T in their command line (sl_no_leftovers).
cp "$(dirname "${BASH_SOURCE[0]}")/stuck_rank.sh" "$T/stuck_rank.sh"
export RNN_DIST_REAL=$RNN_DIST RNN_DIST_BIN=$T/stuck_rank.sh RNN_DIST_START_TIMEOUT=$LIMIT
ARGS=(--data "$DATA" --maxlen 100 --batch-size 48 --no-test --progress lines --max-steps 50)

stuck_case() {  # stuck_case NAME LAUNCH
  local name=$1 launch=$2 running n
  echo "== $name: RNN_DIST_LAUNCH=$launch, rank 1 stuck before it starts, limit ${LIMIT}s"
  RNN_DIST_LAUNCH=$launch sl_submit "$name" --nodes=2 --ntasks-per-node=1 -- "${ARGS[@]}" \
      --output-dir "$T/$name" || return
  sl_wait "$JOB" 90
  check "$([[ $STATE == FAILED && $EXIT_CODE == 75:0 ]]; echo $?)" \
    "$name: job state $STATE, exit code $EXIT_CODE (want FAILED, 75:0)"
  # From the start of the run (RUNNING in the state record) to the end.
  running=$(grep -oE 'RUNNING@[0-9]+s' <<<"$STATES" | head -n1 | grep -oE '[0-9]+')
  check "$([[ -n $running ]] && ((WAITED - running <= LIMIT + 20)); echo $?)" \
    "$name: ended $((WAITED - ${running:-0})) s after it started running (limit ${LIMIT}s + 20)"
  n=$(grep -c "^slurm.sbatch: the ranks did not all start within $LIMIT s (RNN_DIST_START_TIMEOUT" "$T/$name.log")
  check "$([[ $n == 1 ]]; echo $?)" "$name: one start-up line from slurm.sbatch ($n): $(grep -m1 'did not all start' "$T/$name.log" | cut -c1-160)"
  sl_expect_log "$name" "^slurm.sbatch: rnn_dist exit status 75 " "status 75"
  ! grep -q 'requeueing' "$T/$name.log"
  check $? "$name: not requeued"
  check "$([[ $RESTARTS == 0 ]]; echo $?)" "$name: Restarts=$RESTARTS (want 0)"
  [[ $STATE == FAILED ]] || sl_show "$name"
}

stuck_case m1 mpirun
# Control: the same stuck start with the limit off is still running well after the limit (the
# limit is what ended m1, not the stuck rank).
echo "== m0: the same with RNN_DIST_START_TIMEOUT=0 (control)"
if RNN_DIST_START_TIMEOUT=0 sl_submit m0 --nodes=2 --ntasks-per-node=1 -- "${ARGS[@]}" \
    --output-dir "$T/m0"; then
  sl_wait "$JOB" $((LIMIT + 8))
  check "$([[ $STATE == RUNNING ]]; echo $?)" "m0: still $STATE $((LIMIT + 8)) s later (want RUNNING)"
  timeout 10 scancel --quiet "$JOB"
  sl_wait "$JOB" 30
fi
if timeout 10 srun --mpi=list 2>&1 | grep -qw pmix; then
  stuck_case s1 srun
else
  echo "  (no pmix MPI plugin in this Slurm: the srun case is slurm_srun's nopmix check)"
fi

sl_done
