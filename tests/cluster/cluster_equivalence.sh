#!/usr/bin/env bash
# cluster_equivalence: training spread over 3 (simulated) hosts gives the same model as on one.
#
# Usage: cluster_equivalence.sh <rnn_dist> <compare_checkpoints> <prepared data file>
#
# Runs the same 30-step training (real IMDB data, --batch-size 48, seed 1337) as
#   one    1 rank on h1 alone (the reference)
#   3x1    3 ranks, one on each of h1, h2, h3 (TCP between network namespaces)
#   3x2    6 ranks, two on each host (shared memory is not used: btl tcp,self)
# and asserts:
#   - every run exits 0 and writes ckpt-0000000030.rnnd;
#   - the run header of 3x1 / 3x2 says "ranks: 3 on 3 host(s)" / "ranks: 6 on 3 host(s)" and
#     names h1, h2 and h3 (the hosts are really distinct to Open MPI and to rnn_dist);
#   - the final checkpoints of 3x1 and 3x2 equal the reference bit for bit (compare_checkpoints
#     --tolerance 0): the micro-batches' gradients are summed exactly (int64 fixed point), so
#     neither the number of ranks nor the hosts and the TCP transport change a bit (as in
#     tests/e2e/dist_equivalence.sh on one host);
#   - the printed val_loss / val_acc are identical to the reference's;
#   - negative control: the reference's own step-29 checkpoint differs from its step-30 one, so
#     the comparison can fail (one lost or doubled step, or a missing host's gradient, would).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/cluster_lib.sh"
RNN_DIST=$1 COMPARE=$2 DATA=$3
cluster_init cluster_equivalence 3

TOLERANCE=0  # bit-identical
STEPS=30
common=(--data "$DATA" --max-steps "$STEPS" --maxlen 100 --batch-size 48 --threads 1 --no-test
        --seed 1337 --progress lines)
CLUSTER_MPIRUN_TIMEOUT=150 cluster_mpirun_cmd

declare -A metrics checkpoint
for run in one 3x1 3x2; do
  case $run in
    one) np=1 hf=$(cluster_hostfile 1) extra=(--checkpoint-every $((STEPS - 1))) ;;
    3x1) np=3 hf=$(cluster_hostfile 1) extra=() ;;
    3x2) np=6 hf=$(cluster_hostfile 2) extra=() ;;
  esac
  e2e_run "$run" 160 "${CLUSTER_MPIRUN[@]}" -np "$np" --hostfile "$hf" \
      "$RNN_DIST" "${common[@]}" --output-dir "$E2E_TMP/$run" "${extra[@]}"
  assert_status "$run" 0
  assert_output "$run" "^checkpoint: .*/ckpt-0*$STEPS\\.rnnd$"
  case $run in
    one) assert_output "$run" "^ranks: 1 on 1 host\\(s\\) \\(h1" ;;
    3x1) assert_output "$run" "^ranks: 3 on 3 host\\(s\\) \\(h1 x1, h2 x1, h3 x1\\)" ;;
    3x2) assert_output "$run" "^ranks: 6 on 3 host\\(s\\) \\(h1 x2, h2 x2, h3 x2\\)" ;;
  esac
  metrics[$run]=$(val_metrics "$run")
  checkpoint[$run]=$(checkpoint_of "$run")
  echo "  [$run] val_loss val_acc = ${metrics[$run]:-none}; checkpoint ${checkpoint[$run]:-none}"
  cluster_wait_gone 10
  check $? "$run: every host empty ${CLUSTER_GONE_AFTER}s after the run$(cluster_describe_pids | sed 's/^/; left: /')"
  cluster_kill_all
done

# Negative control: one more training step changes the parameters.
before=$(dirname "${checkpoint[one]:-/missing}")/ckpt-$(printf '%010d' $((STEPS - 1))).rnnd
timeout -k 5 60 "$COMPARE" "$before" "${checkpoint[one]:-missing}" --tolerance "$TOLERANCE" >"$E2E_TMP/cmp_step.txt" 2>&1
largest=$(sed -n 's/.*largest difference \([^,]*\),.*/\1/p' "$E2E_TMP/cmp_step.txt")
! le "${largest:-0}" "$TOLERANCE"
check $? "control: reference step $((STEPS - 1)) vs step $STEPS: largest difference ${largest:-?} > $TOLERANCE"

for run in 3x1 3x2; do
  same_training "$run vs one" "$COMPARE" "$TOLERANCE" "${checkpoint[one]:-}" \
      "${checkpoint[$run]:-}" "${metrics[one]:-}" "${metrics[$run]:-}"
done

e2e_finish
