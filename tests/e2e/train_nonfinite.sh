#!/usr/bin/env bash
# A non-finite gradient never trains the model silently: by default the run stops at that step
# with a message naming it, on every rank at once (the all-reduced gradient is the same
# everywhere); with --skip-nonfinite the update is skipped with a warning and training goes on.
# The gradient is made non-finite with RNN_DIST_FAULT=nan:RANK:STEP (a NaN parameter on one rank).
#
#   train_nonfinite.sh MPIEXEC RNN_DIST PREPARED_FILE
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
source "$here/common.sh"
mpiexec=$1 rnn_dist=$2 data=$3
e2e_init train_nonfinite

common=(--data "$data" --maxlen 50 --batch-size 32 --max-steps 8 --threads 1 --no-test
        --validation-split 0.5 --quiet)

RNN_DIST_FAULT=nan:1:3 e2e_run stop 60 "$mpiexec" -np 2 "$rnn_dist" "${common[@]}" \
  --output-dir "$E2E_TMP/stop"
assert_status stop 1
assert_output stop 'non-finite gradient at epoch 1 step 4 \(global step 4\)'
[[ ! -e "$E2E_TMP/stop/checkpoints/ckpt-0000000008.rnnd" ]]
check $? "stop: no checkpoint of the poisoned run's end was written"

RNN_DIST_FAULT=nan:0:3 e2e_run skip 60 "$mpiexec" -np 2 "$rnn_dist" "${common[@]}" \
  --skip-nonfinite --output-dir "$E2E_TMP/skip"
assert_status skip 0
assert_output skip 'warning: skipped the update of epoch 1 step 4 \(global step 4\): non-finite gradient'
assert_output skip 'checkpoint: .*ckpt-0000000008\.rnnd'
assert_no_leftovers nonfinite
e2e_finish
