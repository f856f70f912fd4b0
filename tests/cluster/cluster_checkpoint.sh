#!/usr/bin/env bash
# cluster_checkpoint: only rank 0's host writes checkpoints, and --resume auto works when the other
# hosts cannot see rank 0's checkpoint folder (rank 0 reads the checkpoint and broadcasts it).
#
# Usage: cluster_checkpoint.sh <rnn_dist> <compare_checkpoints> <prepared data file>
#
# 3 hosts x 1 rank. The run folder $E2E_TMP/ck exists on every host, but h2 and h3 each have
# their own empty folder bind-mounted over it (private mounts): whatever they write there lands in
# $E2E_TMP/view-h2 / view-h3 and they never see what h1 writes. Asserts:
#   - stop20: --max-steps 20 exits 0 and h1's folder has checkpoints/ckpt-0000000020.rnnd;
#     view-h2 and view-h3 stay empty (no rank but 0 wrote anything into the run folder: checked
#     separately for files and for folders, e.g. an mkdir of the checkpoint folder), and h2
#     really cannot see the checkpoint (control that the hiding works);
#   - resume40: --resume auto --max-steps 40 in the same folder exits 0, prints one
#     "resumed from .../ckpt-0000000020.rnnd" line, writes ckpt-0000000040.rnnd; views still empty;
#   - full40: an uninterrupted 40-step run (same hiding) ends with a checkpoint bit-identical to
#     resume40's (compare_checkpoints --tolerance 0, as tests/e2e/ckpt_resume.sh at the same rank
#     count), and differs from stop20's (control: the comparison can fail).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/cluster_lib.sh"
RNN_DIST=$1 COMPARE=$2 DATA=$3
cluster_init cluster_checkpoint 3

CLUSTER_MPIRUN_TIMEOUT=120 cluster_mpirun_cmd
hf=$(cluster_hostfile 1)
mkdir -p "$E2E_TMP/ck" "$E2E_TMP/view-h2" "$E2E_TMP/view-h3"
cluster_mount h2 bind "$E2E_TMP/view-h2" "$E2E_TMP/ck"
cluster_mount h3 bind "$E2E_TMP/view-h3" "$E2E_TMP/ck"

train() {  # train <case> <run folder name> <max steps> [extra options...]
  local name=$1 dir=$E2E_TMP/ck/$2 steps=$3
  shift 3
  e2e_run "$name" 130 "${CLUSTER_MPIRUN[@]}" -np 3 --hostfile "$hf" "$RNN_DIST" --data "$DATA" \
      --max-steps "$steps" --maxlen 100 --batch-size 48 --threads 1 --no-test --seed 1337 \
      --progress lines --collective-timeout 20 --output-dir "$dir" "$@"
  cluster_wait_gone 30
  check $? "$name: every host empty ${CLUSTER_GONE_AFTER}s after mpirun ended$(cluster_describe_pids | sed 's/^/; left: /')"
  cluster_kill_all
}
views_empty() {  # views_empty <case>: no file and no folder made by ranks 1, 2 in the run folder
  local h n d
  for h in h2 h3; do
    n=$(find "$E2E_TMP/view-$h" -mindepth 1 ! -type d | wc -l)
    ((n == 0))
    check $? "$1: no file written in $h's view of the run folder ($n$( ((n)) && find "$E2E_TMP/view-$h" -mindepth 1 ! -type d | head -n 3 | sed 's/^/ /' | paste -sd,))"
    d=$(find "$E2E_TMP/view-$h" -mindepth 1 -type d | wc -l)
    ((d == 0))
    check $? "$1: no folder created in $h's view of the run folder ($d$( ((d)) && find "$E2E_TMP/view-$h" -mindepth 1 -type d | head -n 3 | sed "s|^$E2E_TMP/| |" | paste -sd,))"
  done
}

train stop20 run 20
assert_status stop20 0
ck20=$E2E_TMP/ck/run/checkpoints/ckpt-0000000020.rnnd
[[ -s $ck20 ]]
check $? "stop20: h1 has $ck20"
views_empty stop20
seen=$(cluster_exec h2 timeout -k 5 10 sh -c "ls $E2E_TMP/ck/run/checkpoints 2>&1 | head -n 1")
! cluster_exec h2 timeout -k 5 10 test -e "$ck20"
check $? "control: h2 cannot see rank 0's checkpoint (ls on h2: '$seen')"
cp "$ck20" "$E2E_TMP/stop20.rnnd"

train resume40 run 40 --resume auto
assert_status resume40 0
assert_output resume40 "resumed from .*ckpt-0000000020\\.rnnd"
n=$(cat "$E2E_TMP/resume40.out" "$E2E_TMP/resume40.err" | grep -c 'resumed from')
((n == 1))
check $? "resume40: $n 'resumed from' line(s) (want 1)"
ck40=$E2E_TMP/ck/run/checkpoints/ckpt-0000000040.rnnd
[[ -s $ck40 ]]
check $? "resume40: h1 has $ck40"
views_empty resume40

train full40 full 40
assert_status full40 0
full=$E2E_TMP/ck/full/checkpoints/ckpt-0000000040.rnnd
views_empty full40

timeout -k 5 60 "$COMPARE" "$full" "$ck40" --tolerance 0 >"$E2E_TMP/cmp.txt" 2>&1
status=$?
sed 's/^/  | /' "$E2E_TMP/cmp.txt"
check $status "resume40 vs full40 (bit-identical): $(tail -n 1 "$E2E_TMP/cmp.txt")"
timeout -k 5 60 "$COMPARE" "$full" "$E2E_TMP/stop20.rnnd" --tolerance 0 >"$E2E_TMP/cmp20.txt" 2>&1
check $((!$?)) "control: stop20 vs full40 differ: $(tail -n 1 "$E2E_TMP/cmp20.txt")"

e2e_finish
