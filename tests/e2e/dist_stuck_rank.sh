#!/usr/bin/env bash
# dist_stuck_rank: a rank that stops (SIGSTOP, as a hung rank) before a training step does not
# hang the job: with --collective-timeout 3 the arrival watchers (comm/README.md, "Deadline and
# arrival tracking") name the missing rank and the step, and the job ends with status 75.
#
# Usage: dist_stuck_rank.sh <mpirun> <rnn_dist> <prepared data file>
#
# Time limit 20 s, counted from rank 0's "Epoch 1/" line (printed before step 1, also when rank 0
# is the one that stops later), so that start-up time on a busy machine does not count. A stopped
# process cannot clean up after itself: the EXIT trap (common.sh) sends SIGCONT and SIGKILL to
# anything left.
source "$(dirname "$0")/common.sh"
MPIRUN=$1 RNN_DIST=$2 DATA=$3
e2e_init dist_stuck_rank
LIMIT=20

stuck_case() {  # stuck_case <case> <np> <RNN_DIST_FAULT> <reporting rank> <stopped rank>
  local name=$1 np=$2 fault=$3 reporter=$4 stopped=$5
  echo "case $name: RNN_DIST_FAULT=$fault at -np $np, --collective-timeout 3"
  RNN_DIST_FAULT=$fault e2e_run "$name" 60 "$MPIRUN" -np "$np" --oversubscribe "$RNN_DIST" \
      --data "$DATA" --max-steps 20 --maxlen 100 --batch-size 32 --threads 1 --no-test \
      --progress lines --collective-timeout 3 --output-dir "$E2E_TMP/$name"
  assert_status "$name" 75
  # The stopped rank stops before global step 5 (0-based: 5 steps done), i.e. in the 6th step.
  assert_output "$name" \
      "^rnn_dist: rank $reporter \(.*\): collective .* timed out after 3 s .*step 6.*: rank\(s\) $stopped \([^)]*\) did not arrive$"
  assert_faster "$name" "$LIMIT" after_start
  assert_no_leftovers "$name"
}

# Rank 0 (a watcher) notices that rank 1 did not arrive.
stuck_case stop_np2_rank1 2 stop:1:5 0 1
# Rank 0 itself is stopped: rank 1, the second watcher, names it after a grace period.
stuck_case stop_np3_rank0 3 stop:0:5 1 0

e2e_finish
