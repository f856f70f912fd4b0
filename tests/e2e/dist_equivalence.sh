#!/usr/bin/env bash
# dist_equivalence: the same run on 1, 2, 3 and 4 ranks trains the same model.
#
# Usage: dist_equivalence.sh <mpirun> <rnn_dist> <compare_checkpoints> <prepared data file>
#
# The global batch is the same set of examples whatever the number of ranks (DESIGN.md,
# "Data-parallel semantics"), cut into fixed micro-batches by position; each micro-batch's
# gradient is the same bits wherever it is computed, and the micro-batches' gradients and the
# metric sums are added up exactly (int64 fixed point), so the number of ranks changes no bit.
# Checked, after 200 global steps:
#   - the final checkpoints of P = 2, 3, 4 equal P = 1's bit for bit (compare_checkpoints
#     --tolerance 0);
#   - the printed val_loss / val_acc of the partial epoch are identical to P = 1's;
#   - the P = 3 run has --check-replicas (parameter hashes compared across ranks after every
#     step; the trainer throws "replicas diverged" otherwise) and must succeed.
# --batch-size 34 is cut into micro-batches of 16, 16 and 2 examples: uneven work on 2 and 3
# ranks, an idle rank on 4. Negative control: step 199 vs step 200 of the P = 1 run
# DIFFERS, so the comparison can fail. tests/e2e/dist_reproducible.sh covers more rank and thread
# counts, resume on another rank count and the float-sum control.
source "$(dirname "$0")/common.sh"
MPIRUN=$1 RNN_DIST=$2 COMPARE=$3 DATA=$4
e2e_init dist_equivalence

TOLERANCE=0  # bit-identical
STEPS=200
common=(--data "$DATA" --max-steps "$STEPS" --maxlen 100 --batch-size 34 --threads 1 --no-test
        --seed 1337 --progress lines)

declare -A metrics checkpoint
for np in 1 2 3 4; do
  extra=()
  ((np == 3)) && extra=(--check-replicas)
  ((np == 1)) && extra=(--checkpoint-every $((STEPS - 1)))  # for the negative control
  e2e_run "np$np" 120 "$MPIRUN" -np "$np" --oversubscribe "$RNN_DIST" "${common[@]}" \
      --output-dir "$E2E_TMP/np$np" "${extra[@]}"
  assert_status "np$np" 0
  assert_output "np$np" "^checkpoint: .*/ckpt-0*$STEPS\\.rnnd$"
  metrics[$np]=$(val_metrics "np$np")
  checkpoint[$np]=$(checkpoint_of "np$np")
  echo "  [np$np] val_loss val_acc = ${metrics[$np]:-none}; checkpoint ${checkpoint[$np]:-none}"
  assert_no_leftovers "np$np"
done
if ! grep -q "replicas diverged" "$E2E_TMP/np3.out" "$E2E_TMP/np3.err"; then
  check 0 "np3 --check-replicas: no 'replicas diverged' (hash compared after each of $STEPS steps)"
else
  check 1 "np3 --check-replicas: $(grep -h 'replicas diverged' "$E2E_TMP"/np3.* | head -n1)"
fi

# The model did learn (so that equal checkpoints are not equal for a trivial reason).
read -r _ acc1 <<<"${metrics[1]:-nan nan}"
le 0.6 "$acc1"; check $? "np1: val_acc $acc1 >= 0.6 after $STEPS steps (the model trained)"

# Negative control: one more training step changes the parameters.
before=$(dirname "${checkpoint[1]:-/missing}")/ckpt-$(printf '%010d' $((STEPS - 1))).rnnd
"$COMPARE" "$before" "${checkpoint[1]:-missing}" --tolerance "$TOLERANCE" >"$E2E_TMP/cmp_step.txt" 2>&1
# (compare_checkpoints also reports DIFFER for the different global steps: look at the values.)
largest=$(sed -n 's/.*largest difference \([^,]*\),.*/\1/p' "$E2E_TMP/cmp_step.txt")
! le "${largest:-0}" "$TOLERANCE"
check $? "control: np1 step $((STEPS - 1)) vs step $STEPS: largest difference ${largest:-?} > $TOLERANCE (the comparison can fail)"

for np in 2 3 4; do
  same_training "np$np vs np1" "$COMPARE" "$TOLERANCE" "${checkpoint[1]:-}" "${checkpoint[$np]:-}" \
      "${metrics[1]:-}" "${metrics[$np]:-}"
done

e2e_finish
