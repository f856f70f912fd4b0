#!/usr/bin/env bash
# Stop signals under mpirun, as the README states them:
#   - launch/rnn_mpirun.sh (what run_local.sh uses; slurm.sbatch does the same): SIGTERM, SIGINT and SIGUSR1
#     each stop every rank at the next step boundary; rank 0 writes a checkpoint, the job exits 3,
#     and `--resume auto` continues to the same parameters as a run that was never stopped.
#   - SIGUSR1 to a bare mpirun: the same (Open MPI forwards it to every rank).
#   - SIGTERM to a bare mpirun: Open MPI's own handling (SIGCONT, 1 s, SIGTERM, 1 s, SIGKILL) and
#     status 1, whatever the ranks did; nothing is left running.
#
#   launch_signals.sh RNN_DIST MPIRUN COMPARE_CHECKPOINTS PREPARED_FILE SOURCE_DIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
source "$here/common.sh"
rnn_dist=$1 mpirun=$2 compare=$3 data=$4 src=$5
e2e_init launch_signals
# shellcheck source=../../launch/mpi_env.sh
source "$src/launch/mpi_env.sh"
# Long enough that the signal lands well inside training at any speed (500 steps took 1.3 s
# once the layers got faster, and a signal sent 1 s after "Epoch 1/" then came too late).
STEPS=2000
opts=(--data "$data" --maxlen 200 --batch-size 32 --threads 1 --no-test --progress lines
      --max-steps "$STEPS" --validation-split 0.1)

# run_signalled <case> <signal> <launcher...>: starts the job, sends <signal> to the launcher
# once rank 0 has printed a few steps, waits (bounded); sets STATUS.
run_signalled() {
  local name=$1 sig=$2
  shift 2
  local out="$E2E_TMP/$name"
  # Job control on: without it bash starts background jobs with SIGINT ignored, which no trap can
  # undo; a terminal's Ctrl-C reaches a foreground launcher with SIGINT live, as here.
  set -m
  "$@" -np 2 --oversubscribe "$rnn_dist" "${opts[@]}" --output-dir "$out" \
      >"$E2E_TMP/$name.out" 2>"$E2E_TMP/$name.err" &
  local pid=$!
  set +m
  for _ in $(seq 600); do
    grep -q "^Epoch 1/" "$E2E_TMP/$name.out" 2>/dev/null && break
    sleep 0.1
  done
  sleep 0.5
  kill "-$sig" "$pid"
  local waited=0
  while kill -0 "$pid" 2>/dev/null && ((waited < 600)); do sleep 0.1; waited=$((waited + 1)); done
  if kill -0 "$pid" 2>/dev/null; then
    check 1 "$name: the job ended within 60 s of SIG$sig"
    e2e_kill_leftovers
  fi
  wait "$pid"
  STATUS=$?
  echo "  [$name] SIG$sig: exit status $STATUS after $((waited / 10)) s"
}

# An uninterrupted run, the reference for the resumed ones.
e2e_run reference 120 "$mpirun" -np 2 --oversubscribe "$rnn_dist" "${opts[@]}" \
    --output-dir "$E2E_TMP/reference"
assert_status reference 0
reference=$(checkpoint_of reference)

for sig in TERM INT USR1; do
  name=wrapper_$sig
  run_signalled "$name" "$sig" "$src/launch/rnn_mpirun.sh"
  ((STATUS == 3))
  check $? "$name: status $STATUS (want 3: stopped after a checkpoint)"
  grep -q "stopping on request" "$E2E_TMP/$name.out"
  check $? "$name: rank 0 said it stopped on request"
  assert_no_leftovers "$name"
  e2e_run "${name}_resume" 120 "$src/launch/rnn_mpirun.sh" -np 2 --oversubscribe "$rnn_dist" \
      "${opts[@]}" --output-dir "$E2E_TMP/$name" --resume auto
  assert_status "${name}_resume" 0
  "$compare" "$reference" "$(checkpoint_of "${name}_resume")" --optimizer >"$E2E_TMP/$name.cmp" 2>&1
  check $? "$name: stopped + resumed equals the uninterrupted run ($(tail -n 1 "$E2E_TMP/$name.cmp"))"
done

name=bare_USR1
run_signalled "$name" USR1 "$mpirun"
((STATUS == 3))
check $? "$name: status $STATUS (want 3: mpirun forwards SIGUSR1 to every rank)"
assert_no_leftovers "$name"

name=bare_TERM
run_signalled "$name" TERM "$mpirun"
((STATUS == 1))
check $? "$name: status $STATUS (want 1: Open MPI kills the job on SIGTERM, as the README says)"
assert_no_leftovers "$name"

e2e_finish
