#!/usr/bin/env bash
# cluster_data: a host whose data file is missing or differs stops the job with one clear line.
#
# Usage: cluster_data.sh <rnn_dist> <compare_checkpoints (unused)> <prepared data file>
#
# The prepared IMDB file is copied to $E2E_TMP/data/imdb.rnn_dist (the same absolute path on
# every host), then, on 3 hosts x 1 rank:
#   control  every host sees the file: status 0 (so the copy and the setup are sound)
#   missing  h3 has an empty private tmpfs over $E2E_TMP/data (the file is not there for rank 2
#            only): status 2 and exactly one "rnn_dist: error" line,
#            `rnn_dist: error: rank 2 (h3): --data <abs path>: no such file ...`
#   missing0 the same on h1 (rank 0, the one that prints the header): `... rank 0 (h1): --data ...`
#   nowhere  no host has the file: one line without a rank, `rnn_dist: error: --data ...: no such file ...`
#   differs  h3 has another valid prepared file (600 reviews of aclImdb, prepared by rnn_dist
#            prepare) bind-mounted over the same path: status 2 and exactly one line,
#            `rnn_dist: error: rank 2 (h3): the data at <abs path> differs from rank 0's
#            (h1:<abs path>) ...`
# Message formats: /work/coord/INTERFACES.md ("setup errors"). A setup error is found before
# training: the failing cases must end within 20 s of the launch (and every host be empty).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/cluster_lib.sh"
RNN_DIST=$1 DATA=$3
cluster_init cluster_data 3

mkdir -p "$E2E_TMP/data"
cp "$DATA" "$E2E_TMP/data/imdb.rnn_dist"
path=$E2E_TMP/data/imdb.rnn_dist

# Another valid prepared file: the first 150 reviews of each split and label.
cluster_small_dataset 150 "$E2E_TMP/small.rnn_dist"
check $? "a different prepared file: $(grep -m1 'train:' "$E2E_TMP/prepare.150.log")"
! cmp -s "$path" "$E2E_TMP/small.rnn_dist"
check $? "it differs from $DATA ($(stat -c %s "$E2E_TMP/small.rnn_dist") vs $(stat -c %s "$path") bytes)"

CLUSTER_MPIRUN_TIMEOUT=60 cluster_mpirun_cmd
hf=$(cluster_hostfile 1)
run_case() {  # run_case <case>: 3 x 1 ranks, 2 steps, on $path
  e2e_run "$1" 70 "${CLUSTER_MPIRUN[@]}" -np 3 --hostfile "$hf" "$RNN_DIST" --data "$path" \
      --max-steps 2 --maxlen 100 --batch-size 48 --threads 1 --no-test --progress lines \
      --collective-timeout 10 --output-dir "$E2E_TMP/$1"
  cluster_wait_gone 60
  check $? "$1: every host empty ${CLUSTER_GONE_AFTER}s after mpirun ended$(cluster_describe_pids | sed 's/^/; left: /')"
  cluster_kill_all
}
one_error_line() {  # one_error_line <case>: exactly one "rnn_dist: error" line in the output
  local n
  n=$(cat "$E2E_TMP/$1.out" "$E2E_TMP/$1.err" | grep -c '^rnn_dist: error')
  ((n == 1))
  check $? "$1: $n 'rnn_dist: error' line(s) (want 1)$( ((n > 1)) && grep -h '^rnn_dist: error' "$E2E_TMP/$1".* | sed 's/^/; /' | cut -c1-200)"
}
re_path=$(sed 's/[][\.*^$+?(){}|/]/\\&/g' <<<"$path")

echo "case control: every host has the file"
run_case control
assert_status control 0

echo "case missing: h3 cannot see $path"
cluster_mounts_clear
cluster_mount h3 tmpfs "$E2E_TMP/data"
run_case missing
assert_status missing 2
assert_faster missing 20
assert_output missing "^rnn_dist: error: rank 2 \\(h3\\): --data $re_path: no such file or folder"
one_error_line missing

echo "case missing0: h1 (rank 0) cannot see $path"
cluster_mounts_clear
cluster_mount h1 tmpfs "$E2E_TMP/data"
run_case missing0
assert_status missing0 2
assert_faster missing0 20
assert_output missing0 "^rnn_dist: error: rank 0 \\(h1\\): --data $re_path: no such file or folder"
one_error_line missing0

echo "case nowhere: no host can see $path"
cluster_mounts_clear
for h in h1 h2 h3; do cluster_mount "$h" tmpfs "$E2E_TMP/data"; done
run_case nowhere
assert_status nowhere 2
assert_faster nowhere 20
assert_output nowhere "^rnn_dist: error: --data $re_path: no such file or folder"
one_error_line nowhere

echo "case differs: h3 has another prepared file at $path"
cluster_mounts_clear
cluster_mount h3 bind "$E2E_TMP/small.rnn_dist" "$path"
run_case differs
assert_status differs 2
assert_faster differs 20
assert_output differs \
    "^rnn_dist: error: rank 2 \\(h3\\): the data at $re_path differs from rank 0's \\(h1:$re_path\\)"
one_error_line differs

e2e_finish
