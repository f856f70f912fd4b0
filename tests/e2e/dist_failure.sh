#!/usr/bin/env bash
# dist_failure: a rank that fails makes the whole job end, fast, with a non-zero status and a
# message naming the rank; no process of the job is left behind.
#
# Usage: dist_failure.sh <mpirun> <rnn_dist> <prepared data file>
#
# Faults come from the product binary itself (RNN_DIST_FAULT, trainer/cli/fault_injection.h) or
# from bad inputs given to one rank of an MPMD launch. The time limit (20 s) is counted from the
# moment training starts (rank 0's "Epoch 1/" line) when it does, from the launch otherwise: on a
# busy 2-core machine start-up and data loading alone vary by several seconds. Without the abort
# machinery these jobs would hang until the hard timeout (60 s).
source "$(dirname "$0")/common.sh"
MPIRUN=$1 RNN_DIST=$2 DATA=$3
e2e_init dist_failure
LIMIT=20
HARD=60

# 20 steps: a fault at step 5 fires well before the end, and a fault that does not fire ends
# with status 0 (and fails the status check).
opts() {  # opts <case>: the options every rank of a case gets
  echo --max-steps 20 --maxlen 100 --batch-size 32 --threads 1 --no-test --progress lines \
      --collective-timeout 30 --output-dir "$E2E_TMP/$1/out"
}

# fault_case <case> <np> <RNN_DIST_FAULT> <status> <regex>
fault_case() {
  local name=$1 np=$2 fault=$3 status=$4 re=$5
  echo "case $name: RNN_DIST_FAULT=$fault at -np $np"
  mkdir -p "$E2E_TMP/$name"
  # shellcheck disable=SC2046
  RNN_DIST_FAULT=$fault e2e_run "$name" "$HARD" "$MPIRUN" -np "$np" --oversubscribe \
      "$RNN_DIST" --data "$DATA" $(opts "$name")
  assert_status "$name" "$status"
  assert_output "$name" "$re"
  assert_faster "$name" "$LIMIT" after_start
  assert_no_leftovers "$name"
}

# (a) A rank throws inside training: main catches it and Communicator::abort ends the job with
# status 1 and "rnn_dist: rank R (host): <message>".
injected='injected fault \(RNN_DIST_FAULT\) before global step 5$'
fault_case throw_np2_rank1 2 throw:1:5 1 "^rnn_dist: rank 1 \(.*\): $injected"
fault_case throw_np3_rank1 3 throw:1:5 1 "^rnn_dist: rank 1 \(.*\): $injected"
fault_case throw_np2_rank0 2 throw:0:5 1 "^rnn_dist: rank 0 \(.*\): $injected"

# (b) A rank dies without a word (_exit(9)): mpirun sees a rank exit non-zero and kills the job;
# its report names the process [[jobid,1],1] (rank 1) and exit code 9.
fault_case exit_np2_rank1 2 exit:1:5 nonzero "Process name: +\[\[[0-9]+,1\],1\]"
assert_output exit_np2_rank1 "Exit code: +9"

# (c) Rank 1 gets a truncated copy of the prepared file (MPMD launch).
mkdir -p "$E2E_TMP/good" "$E2E_TMP/bad" "$E2E_TMP/empty"
ln -s "$DATA" "$E2E_TMP/good/imdb.rnn_dist"
head -c 3000000 "$DATA" >"$E2E_TMP/bad/imdb.rnn_dist"
# (c1) Different --data paths: the ranks' options differ, which check_same_options catches
# before any rank reads its data; rank 1 says so, a usage error (2) like any other set-up error.
name=mpmd_corrupt_other_path
echo "case $name: -np 1 --data good : -np 1 --data truncated copy (different paths)"
mkdir -p "$E2E_TMP/$name"
# shellcheck disable=SC2046
e2e_run $name $HARD "$MPIRUN" -np 1 "$RNN_DIST" --data "$DATA" $(opts $name) \
    : -np 1 "$RNN_DIST" --data "$E2E_TMP/bad/imdb.rnn_dist" $(opts $name)
assert_status $name 2
assert_output $name "^rnn_dist: error: rank 1 \([^)]*\): started with options that differ from rank 0's$"
assert_faster $name $LIMIT
assert_no_leftovers $name
# (c2) The same relative --data path resolved in different working folders (-wdir): the options
# agree, so rank 1 really reads the truncated file and must name it.
name=mpmd_corrupt_same_path
echo "case $name: -np 1 -wdir good --data imdb.rnn_dist : -np 1 -wdir bad --data imdb.rnn_dist"
mkdir -p "$E2E_TMP/$name"
# shellcheck disable=SC2046
e2e_run $name $HARD "$MPIRUN" -np 1 -wdir "$E2E_TMP/good" "$RNN_DIST" --data imdb.rnn_dist \
    $(opts $name) : -np 1 -wdir "$E2E_TMP/bad" "$RNN_DIST" --data imdb.rnn_dist $(opts $name)
assert_status $name 1
# Agreed by the ranks as a set-up error (no MPI_Abort): one line naming rank 1 and its file.
assert_output $name "^rnn_dist: error: rank 1 \([^)]*\): prepared dataset imdb.rnn_dist is truncated"
check $(grep -q MPI_ABORT "$E2E_TMP/$name.err"; echo $((1 - $?))) "$name: no MPI_ABORT"
assert_faster $name $LIMIT
assert_no_leftovers $name

# (d) Rank 1's data path does not exist (same relative path, an empty working folder).
name=mpmd_missing_data
echo "case $name: -np 1 -wdir good --data imdb.rnn_dist : -np 1 -wdir empty --data imdb.rnn_dist"
mkdir -p "$E2E_TMP/$name"
# shellcheck disable=SC2046
e2e_run $name $HARD "$MPIRUN" -np 1 -wdir "$E2E_TMP/good" "$RNN_DIST" --data imdb.rnn_dist \
    $(opts $name) : -np 1 -wdir "$E2E_TMP/empty" "$RNN_DIST" --data imdb.rnn_dist $(opts $name)
# The ranks check their environment after MPI starts and agree: the lowest failing rank (1 here)
# prints one line naming itself, and every rank ends normally with status 2 (so mpirun may report
# any of them as "the first process" to exit non-zero).
assert_status $name 2
assert_output $name "^rnn_dist: error: rank 1 \\([^)]*\\): --data /.*/empty/imdb.rnn_dist: no such file or folder"
assert_faster $name $LIMIT
assert_no_leftovers $name

e2e_finish
