#!/usr/bin/env bash
# dist_metrics_independent_of_ranks: the reported metrics are sums over all ranks, so they do not
# depend on how many ranks computed them (DESIGN.md: "each rank evaluates its slice; sums (loss,
# correct, count) are reduced to rank 0").
#
# Usage: dist_metrics_independent_of_ranks.sh <mpirun> <rnn_dist> <prepared data file>
#
# One global step, then the validation split (5,000 reviews) is evaluated on P = 1, 2, 3, 4 ranks
# in fixed evaluation batches by position, whichever rank computes each (uneven at P = 3), and the
# loss / correct / count sums are added up exactly (integers and int64 fixed point), as are the
# training sums of the step. The printed val_loss and val_acc (4 decimals), and the training
# loss/acc of that one global batch, must be identical for every P. (Training is bit-identical
# on any P as well, tests/e2e/dist_reproducible.sh; --lr 1e-12 keeps the step from moving the
# parameters, ~lr/sqrt(1 - rho) ~ 3e-12 below a float's resolution at their scale ~0.05, so what
# is evaluated is the model the run started from.)
# An untrained model scores every review near 0.5, so its val_loss is ln 2 = 0.6931 whichever
# reviews are counted: the same comparison is repeated from a trained model (100 steps on one
# rank, then --resume with --lr 1e-12 for one more step), whose val_loss and val_acc depend on
# every example evaluated.
source "$(dirname "$0")/common.sh"
MPIRUN=$1 RNN_DIST=$2 DATA=$3
e2e_init dist_metrics_independent_of_ranks

common=(--data "$DATA" --maxlen 100 --batch-size 34 --threads 1 --no-test --progress lines)

# "loss: X - acc: Y - val_loss: Z - val_acc: W" of the (partial) epoch line.
epoch_metrics() {
  sed -nE 's/.* - (loss: .* - acc: .* - val_loss: [^ ]+ - val_acc: [^ ]+).*/\1/p' "$E2E_TMP/$1.out" |
      tail -n 1
}

# compare_ranks <label> <options...>: the epoch line on P = 1..4 must be identical.
compare_ranks() {
  local label=$1 np
  shift
  local -A line
  for np in 1 2 3 4; do
    e2e_run "${label}_np$np" 60 "$MPIRUN" -np "$np" --oversubscribe "$RNN_DIST" "${common[@]}" \
        --output-dir "$E2E_TMP/${label}_np$np" "$@"
    assert_status "${label}_np$np" 0
    line[$np]=$(epoch_metrics "${label}_np$np")
    [[ -n ${line[$np]} ]]
    check $? "${label}_np$np: ${line[$np]:-no epoch line with val metrics}"
    assert_no_leftovers "${label}_np$np"
  done
  for np in 2 3 4; do
    [[ -n ${line[1]} && ${line[$np]} == "${line[1]}" ]]
    check $? "$label np$np vs np1: '${line[$np]}' == '${line[1]}'"
  done
}

echo "initial model (1 step at --lr 1e-12):"
compare_ranks initial --max-steps 1 --lr 1e-12

echo "trained model (100 steps at -np 1, then 1 step at --lr 1e-12):"
e2e_run train 60 "$MPIRUN" -np 1 "$RNN_DIST" "${common[@]}" --max-steps 100 \
    --output-dir "$E2E_TMP/train"
assert_status train 0
trained=$(checkpoint_of train)
echo "  trained: $(epoch_metrics train); checkpoint ${trained:-none}"
compare_ranks trained --max-steps 101 --lr 1e-12 --resume "${trained:-missing}"
# The trained model must score differently from the initial one, or the second half proves
# nothing more than the first.
[[ $(epoch_metrics trained_np1) != *"val_loss: 0.693"* ]]
check $? "trained model's val_loss differs from ln 2: $(epoch_metrics trained_np1)"

e2e_finish
