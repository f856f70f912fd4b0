#!/usr/bin/env bash
# Signals: the first SIGTERM stops the run at the next step boundary after a checkpoint (exit 3,
# covered at length by ckpt_resume.sh); a second signal ends the process at once, without waiting
# for the step boundary (the documented escape when a stop takes too long).
# The two are SIGTERM then SIGINT: two SIGTERMs sent back to back can merge into one pending
# signal before the process runs (standard signals do not queue), which is one stop request.
#
#   train_signals.sh RNN_DIST PREPARED_FILE
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
source "$here/common.sh"
rnn_dist=$1 data=$2
e2e_init train_signals

# A single process, long enough to be inside training when the signals come.
out="$E2E_TMP/twice"
"$rnn_dist" --data "$data" --maxlen 500 --batch-size 128 --threads 1 --no-test --progress lines \
  --output-dir "$out" >"$E2E_TMP/twice.out" 2>"$E2E_TMP/twice.err" &
pid=$!
for _ in $(seq 300); do
  grep -q "^Epoch 1/" "$E2E_TMP/twice.out" 2>/dev/null && break
  sleep 0.1
done
sleep 0.5
start=$(date +%s.%N)
kill -TERM "$pid"
kill -INT "$pid"
wait "$pid"
status=$?
elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
# Both pending at once, the kernel delivers SIGINT (2) before SIGTERM (15): either may come second.
((status == 143 || status == 130))
check $? "two signals: the process ended by the second one (status $status, want 143 or 130 = 128 + SIGTERM or SIGINT)"
awk -v e="$elapsed" 'BEGIN { exit !(e < 2.0) }'
check $? "two signals: it ended ${elapsed}s after the signals (limit 2 s: no waiting for the step)"
! grep -q "stopping on request" "$E2E_TMP/twice.out"
check $? "two signals: no orderly stop was attempted"
assert_no_leftovers signals
e2e_finish
