#!/usr/bin/env bash
# cluster_start: launch/rnn_mpirun.sh ends a job whose ranks never all start, on (simulated) hosts.
#
# Usage: cluster_start.sh <rnn_dist> <prepared data file>
#
# Open MPI's mpirun starts no rank before every remote daemon (orted) has called back, and waits
# for that without a limit. On 3 hosts, with RNN_DIST_START_TIMEOUT=$LIMIT, asserts:
#   bad_limit     RNN_DIST_START_TIMEOUT=2m, and the older name RNN_MPIRUN_START_TIMEOUT=2m:
#                 status 2 and one line naming the variable given;
#   unreachable   h3's link is down from the start, so its orted starts but cannot call back:
#                 exit status 75 within LIMIT + 8 s, one line from rnn_mpirun.sh naming the limit
#                 and the likely cause, and no process left on any host. Control: the same
#                 launch with plain mpirun is still waiting after LIMIT + 8 s (so the limit is
#                 what ended the job; this control is then killed by its own timeout);
#   orted_dies    h3's orted is killed (-9) as soon as it exists (and any other that appears there
#                 during the run), in or after the window before its call back: the job ends
#                 within LIMIT + 8 s with a non-zero status (75 from the limit, or mpirun's own
#                 report if the orted had called back), nothing left;
#   started       a 3-host training that runs past the limit (600 steps, about 12 s) exits 0 with
#                 its checkpoint:
#                 rank 0's "rnn_dist: started 3 ranks on 3 hosts" (printed once every rank is past
#                 MPI_Init) disarms the limit, and the line reaches the launcher's stdout once.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/cluster_lib.sh"
RNN_DIST=$1 DATA=$2
LAUNCHER=$(cd "$HERE/../../launch" && pwd)/rnn_mpirun.sh
LIMIT=6
cluster_init cluster_start 3

CLUSTER_MPIRUN_TIMEOUT=120 cluster_mpirun_cmd
# The same command with launch/rnn_mpirun.sh (which runs mpirun itself) in place of mpirun.
LAUNCH=("${CLUSTER_MPIRUN[@]/#mpirun/$LAUNCHER}")
hf=$(cluster_hostfile 1)
train=("$RNN_DIST" --data "$DATA" --maxlen 100 --batch-size 48 --threads 1 --no-test --seed 1337
       --progress lines)

gone_check() {  # gone_check <case>
  cluster_wait_gone 10
  check $? "$1: every host empty ${CLUSTER_GONE_AFTER}s after the run$(cluster_describe_pids | sed 's/^/; left: /')"
  cluster_kill_all
}

echo "bad_limit: a limit that is not a number"
RNN_DIST_START_TIMEOUT=2m e2e_run bad_limit 30 "$LAUNCHER" -np 1 "$RNN_DIST" --help
assert_status bad_limit 2
assert_output bad_limit "^rnn_mpirun.sh: RNN_DIST_START_TIMEOUT '2m' must be a whole number of seconds"
RNN_MPIRUN_START_TIMEOUT=2m e2e_run bad_limit_old 30 "$LAUNCHER" -np 1 "$RNN_DIST" --help
assert_status bad_limit_old 2
assert_output bad_limit_old "^rnn_mpirun.sh: RNN_MPIRUN_START_TIMEOUT '2m' must be a whole number of seconds"

echo "unreachable: h3 cannot reach mpirun"
cluster_link_down h3
RNN_DIST_START_TIMEOUT=$LIMIT e2e_run unreachable 60 "${LAUNCH[@]}" -np 3 --hostfile "$hf" \
    "${train[@]}" --max-steps 5 --output-dir "$E2E_TMP/unreachable"
assert_status unreachable 75
le "$E2E_ELAPSED" $((LIMIT + 8))
check $? "unreachable: ended after ${E2E_ELAPSED}s (limit ${LIMIT}s + 8)"
lines=$(grep -c "^rnn_mpirun.sh: the ranks did not all start within $LIMIT s" "$E2E_TMP/unreachable.err")
((lines == 1))
check $? "unreachable: one line from rnn_mpirun.sh ($lines): $(grep -m1 '^rnn_mpirun.sh' "$E2E_TMP/unreachable.err" | cut -c1-150)"
assert_output unreachable "could not start or cannot connect back to this host"
gone_check unreachable
# Control: plain mpirun, the same fault, is still waiting well after the limit.
e2e_run unreachable_plain $((LIMIT + 8)) "${CLUSTER_MPIRUN[@]}" -np 3 --hostfile "$hf" \
    "${train[@]}" --max-steps 5 --output-dir "$E2E_TMP/unreachable_plain"
((E2E_STATUS == 124))
check $? "control: plain mpirun with h3 cut off still waiting after $((LIMIT + 8))s (status $E2E_STATUS, 124 = killed by the test's timeout)"
gone_check unreachable_plain
cluster_link_up h3

echo "orted_dies: h3's orted killed while the job starts"
# Every orted that appears on h3 is killed, for the whole run, not only the first one found:
# once (CI) the one killed was not the daemon that went on to serve the job (the job trained
# to its end and exited 0), so h3 must have no daemon at all.
(
  for _ in $(seq 3000); do
    for o in $(cluster_orted_pids h3); do
      kill -9 "$o" 2>/dev/null && echo "$o" >>"$E2E_TMP/killed"
    done
    sleep 0.01
  done
) &
killer=$!
# 600 steps (about 12 s), so that the job cannot end before the kill lands: with 5 steps it once
# finished in 1.0 s, the poll for h3's orted found it late, and the job exited 0 (CI).
RNN_DIST_START_TIMEOUT=$LIMIT e2e_run orted_dies 60 "${LAUNCH[@]}" -np 3 --hostfile "$hf" \
    "${train[@]}" --max-steps 600 --output-dir "$E2E_TMP/orted_dies"
kill "$killer" 2>/dev/null
wait "$killer"
[[ -s $E2E_TMP/killed ]]
check $? "orted_dies: killed h3's orted (pid(s) $(paste -sd' ' "$E2E_TMP/killed" 2>/dev/null || echo none))"
assert_status orted_dies nonzero
le "$E2E_ELAPSED" $((LIMIT + 8))
check $? "orted_dies: ended after ${E2E_ELAPSED}s (limit ${LIMIT}s + 8)"
gone_check orted_dies

echo "started: a job that starts runs past the limit"
RNN_DIST_START_TIMEOUT=$LIMIT e2e_run started 150 "${LAUNCH[@]}" -np 3 --hostfile "$hf" \
    "${train[@]}" --max-steps 600 --output-dir "$E2E_TMP/started"
assert_status started 0
le $((LIMIT + 1)) "$E2E_ELAPSED"
check $? "started: ran ${E2E_ELAPSED}s, past its ${LIMIT} s start-up limit (the timer fired during the run)"
assert_output started "^checkpoint: .*/ckpt-0*600\\.rnnd$"
lines=$(grep -c "^rnn_dist: started 3 ranks on 3 hosts$" "$E2E_TMP/started.out")
((lines == 1))
check $? "started: 'rnn_dist: started 3 ranks on 3 hosts' once in stdout ($lines)"
! grep -q "^rnn_mpirun.sh: the ranks did not all start" "$E2E_TMP/started.err"
check $? "started: no start-up timeout reported"
gone_check started

e2e_finish
