#!/usr/bin/env bash
# dist_work_sharing: the ranks of a node share each step's micro-batches as they become free
# (Communicator::take_work), so a rank slowed by the machine takes fewer of them, and the model
# trained is the same bits whoever took what.
#
# Usage: dist_work_sharing.sh <mpirun> <rnn_dist> <compare_checkpoints> <prepared data file>
#
# Rank r is bound to core r. A busy loop on core 1 leaves rank 1 about half of its core, which is
# what another program on a core, or a busy hypervisor, does to a rank. Checked:
#   - with the busy loop, rank 1 took at most 40% of the micro-batches (--profile prints
#     "micro-batches per rank FEWEST to MOST"); a split fixed in advance gives it about half;
#   - the same run without the busy loop, and with 2 threads per rank (4 workers sharing the
#     node's micro-batches) under the busy loop, end with the same checkpoint bit for bit and the
#     same printed validation metrics;
#   - every micro-batch was computed once: fewest + most = the steps' micro-batches.
source "$(dirname "$0")/common.sh"
MPIRUN=$1 RNN_DIST=$2 COMPARE=$3 DATA=$4
e2e_init dist_work_sharing

STEPS=60          # 8 micro-batches of 16 per global batch of 128: 480 micro-batches
TOTAL=$((STEPS * 8))
common=(--data "$DATA" --max-steps "$STEPS" --validation-split 0.1 --no-test --seed 1337
        --progress lines --profile)
bind=(-np 2 --bind-to core --map-by core)

# The busy loop's command line names the scratch folder, so e2e_cleanup ends it on any exit.
HOG_PID=
start_hog() {
  taskset -c 1 bash -c 'while :; do :; done' "$E2E_TMP/busy-loop" &
  HOG_PID=$!
}
stop_hog() {
  [[ -n $HOG_PID ]] && kill "$HOG_PID" 2>/dev/null
  wait "$HOG_PID" 2>/dev/null
  HOG_PID=
}

# shares <case>: "FEWEST MOST" from the time split line.
shares() {
  sed -nE 's/.*micro-batches per rank ([0-9]+) to ([0-9]+).*/\1 \2/p' "$E2E_TMP/$1.out" | tail -n 1
}

declare -A metrics checkpoint
for case in quiet busy busy_threads; do
  threads=1
  [[ $case == busy_threads ]] && threads=2
  [[ $case == busy* ]] && start_hog
  e2e_run "$case" 120 "$MPIRUN" "${bind[@]}" "$RNN_DIST" "${common[@]}" --threads "$threads" \
      --output-dir "$E2E_TMP/$case"
  stop_hog
  assert_status "$case" 0
  metrics[$case]=$(val_metrics "$case")
  checkpoint[$case]=$(checkpoint_of "$case")
  read -r fewest most <<<"$(shares "$case")"
  echo "  [$case] $threads thread(s) per rank: micro-batches per rank ${fewest:-?} to ${most:-?}"
  [[ -n ${fewest:-} && $((fewest + most)) -eq $TOTAL ]]
  check $? "$case: fewest + most = ${fewest:-?} + ${most:-?} = $TOTAL micro-batches (each computed once)"
  if [[ $case == busy ]]; then
    [[ -n ${fewest:-} ]] && ((fewest * 10 <= TOTAL * 4))
    check $? "busy: the slowed rank took ${fewest:-?} of $TOTAL micro-batches (at most 40%)"
  fi
  assert_no_leftovers "$case"
done

for case in busy busy_threads; do
  same_training "$case vs quiet" "$COMPARE" 0 "${checkpoint[quiet]}" "${checkpoint[$case]}" \
      "${metrics[quiet]}" "${metrics[$case]}"
done
e2e_finish
