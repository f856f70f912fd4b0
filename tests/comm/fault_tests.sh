#!/usr/bin/env bash
# Fault injection for comm/: a job whose rank fails or stops must end, quickly, with a non-zero
# status and a line naming the rank. Usage: fault_tests.sh <mpirun> <comm_fault_probe>
#
# Every probe rank writes its pid to a scratch folder; afterwards no such process may be alive
# (the EXIT trap kills any, by pid, so nothing outlives the test even when it fails).
set -u
MPIRUN=$1
PROBE=$2
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
SCRATCH=$(mktemp -d)
failures=0

alive() {  # alive <pid>: running or stopped, not a zombie
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n $state && $state != Z* ]]
}

kill_leftovers() {
  local f pid
  for f in "$SCRATCH"/*/rank*.pid; do
    [[ -e $f ]] || continue
    pid=$(cat "$f")
    if alive "$pid"; then kill -CONT "$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null; fi
  done
}
trap 'kill_leftovers; rm -rf "$SCRATCH"' EXIT

# run_case <name> <np> <max seconds> <expected status> <stderr regex> <probe args...>
# expected status "nonzero" accepts any status but 0.
run_case() {
  local name=$1 np=$2 max_s=$3 want_status=$4 want_err=$5
  shift 5
  local dir="$SCRATCH/$name"
  mkdir -p "$dir"
  local start end status ok=1
  start=$(date +%s)
  timeout 60 "$MPIRUN" -np "$np" --oversubscribe "$PROBE" "$@" --pid-dir "$dir" \
      >"$dir/stdout" 2>"$dir/stderr"
  status=$?
  end=$(date +%s)
  local elapsed=$((end - start))
  if ((elapsed >= max_s)); then echo "FAIL $name: took ${elapsed}s (limit ${max_s}s)"; ok=0; fi
  if [[ $want_status == nonzero ]]; then
    if ((status == 0)); then echo "FAIL $name: exit status 0, expected non-zero"; ok=0; fi
  elif ((status != want_status)); then
    echo "FAIL $name: exit status $status, expected $want_status"; ok=0
  fi
  if ! grep -Eq -- "$want_err" "$dir/stderr" "$dir/stdout"; then
    echo "FAIL $name: output lacks /$want_err/"; ok=0
  fi
  # Killed ranks may take a moment to be reaped; give them 5 s.
  local f pid left=""
  for f in "$dir"/rank*.pid; do
    [[ -e $f ]] || continue
    pid=$(cat "$f")
    for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then left+=" $pid"; fi
  done
  if [[ -n $left ]]; then echo "FAIL $name: processes left running:$left"; ok=0; fi
  if ((ok)); then
    echo "ok   $name: status $status in ${elapsed}s"
  else
    failures=$((failures + 1))
    echo "---- stderr of $name:"; cat "$dir/stderr"; echo "----"
  fi
}

# Sanity: nobody misbehaves, with a deadline on.
run_case healthy 3 20 0 "comm_fault_probe: finished normally" none --deadline 2
# (a) A rank fails and calls abort() while the others wait in a blocking all-reduce.
run_case throw_np3_rank1 3 20 3 "^rnn_dist: rank 1 \(.*\): injected failure at step 3$" \
    throw-on-rank 1
run_case throw_np2_rank0 2 20 3 "^rnn_dist: rank 0 \(.*\): injected failure at step 3$" \
    throw-on-rank 0
# An exception that nothing catches: the terminate handler aborts the job.
run_case uncaught_np4_rank2 4 20 nonzero \
    "^rnn_dist: rank 2 \(.*\): std::terminate called after an uncaught exception: injected failure at step 3$" \
    uncaught-on-rank 2
# (b) A rank is stopped (SIGSTOP) before a collective; the others have a 2 s deadline.
run_case stop_np2_rank1 2 15 75 \
    "^rnn_dist: rank 0 \(.*\): collective all-reduce #[0-9]+ timed out after 2 s at epoch 1 step 3: rank\(s\) 1 \([^)]*\) did not arrive$" \
    stop-rank 1 --deadline 2
run_case stop_np3_rank2 3 15 75 \
    "^rnn_dist: rank 0 \(.*\): collective all-reduce #[0-9]+ timed out after 2 s at epoch 1 step 3: rank\(s\) 2 \([^)]*\) did not arrive$" \
    stop-rank 2 --deadline 2
# Rank 0 itself stopped: rank 1, the second arrival watcher, names it.
run_case stop_np3_rank0 3 15 75 \
    "^rnn_dist: rank 1 \(.*\): collective all-reduce #[0-9]+ timed out after 2 s at epoch 1 step 3: rank\(s\) 0 \([^)]*\) did not arrive$" \
    stop-rank 0 --deadline 2
# (c) A rank stops or dies inside the all-reduce, after it arrived and started sending: the
# deadline covers the transfer too, and the roll call names the rank that stopped answering.
run_case stop_inside_np3_rank1 3 15 75 \
    "^rnn_dist: rank 0 \(.*\): collective all-reduce #[0-9]+ timed out after 2 s at epoch 1 step 3: rank\(s\) 1 \([^)]*\) arrived, then stopped answering" \
    stop-inside 1 --deadline 2
run_case stop_inside_np3_rank0 3 15 75 \
    "^rnn_dist: rank 1 \(.*\): collective all-reduce #[0-9]+ timed out after 2 s at epoch 1 step 3: rank\(s\) 0 \([^)]*\) arrived, then stopped answering" \
    stop-inside 0 --deadline 2
# A rank killed mid-transfer: Open MPI notices the dead process, names it and ends the job.
run_case kill_inside_np3_rank2 3 15 nonzero \
    "process rank 2 with PID [0-9]+ on node .* exited on signal 9" kill-inside 2 --deadline 2
# (d) A mistyped benchmark switch is refused with one line, not ignored.
RNN_DIST_ALLREDUCE=bogus run_case bad_algorithm_np2 2 20 2 \
    "^rnn_dist: rank [01] \(.*\): RNN_DIST_ALLREDUCE 'bogus' must be shared-memory, ring or mpi-blocking$" none

if ((failures)); then echo "$failures case(s) failed"; exit 1; fi
echo "all fault cases passed"
