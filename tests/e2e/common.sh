# shellcheck shell=bash
# Shared helpers of the end-to-end shell tests (source it; do not run it).
#
#   source common.sh
#   e2e_init <test name>          MPI env, a scratch folder $E2E_TMP removed (and every process
#                                 whose command line names it killed) on exit, failure counter
#   e2e_run <case> <hard s> cmd.. run cmd under `timeout <hard s>`: stdout to $E2E_TMP/<case>.out,
#                                 stderr to <case>.err; sets E2E_STATUS, E2E_ELAPSED (launch to
#                                 end, s) and E2E_AFTER_START (from the first "Epoch 1/" line
#                                 on stdout to the end, s; = E2E_ELAPSED when there is none)
#   check <ok?> <what>            record and print one assertion; e2e_finish exits 1 if any failed
#   e2e_finish                    summary line and exit status
#
# Every assertion prints what it compared, so that a failing ctest log explains itself.
# Processes are found by their command line containing $E2E_TMP (every rnn_dist started here gets
# an --output-dir inside it), so a test never touches another test's or another user's processes.

set -u -o pipefail

e2e_init() {
  E2E_NAME=$1
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  # Quiet Open MPI's "not enough slots" and help-message aggregation; oversubscription is asked
  # for per run (only runs with more ranks than cores need it).
  export OMPI_MCA_orte_base_help_aggregate=0
  E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/rnn_dist_e2e.${E2E_NAME}.XXXXXX")
  E2E_FAILURES=0
  E2E_CHECKS=0
  trap 'e2e_cleanup' EXIT
  trap 'exit 130' INT TERM
  echo "$E2E_NAME: scratch folder $E2E_TMP"
}

# Pids of processes (not this shell) whose command line contains the scratch folder.
e2e_leftover_pids() {
  pgrep -f -- "$E2E_TMP" | grep -vx -e "$$" -e "${BASHPID:-$$}" || true
}

# SIGCONT (a SIGSTOPped rank) then SIGKILL every leftover, by pid.
e2e_kill_leftovers() {
  local pids
  pids=$(e2e_leftover_pids)
  [[ -z $pids ]] && return 0
  # shellcheck disable=SC2086
  kill -CONT $pids 2>/dev/null
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null
  return 0
}

e2e_cleanup() {
  e2e_kill_leftovers
  if [[ -n ${E2E_KEEP:-} ]]; then echo "$E2E_NAME: kept $E2E_TMP"; else rm -rf "$E2E_TMP"; fi
}

# check <status> <description>: status 0 = passed (a shell status, so `cmd; check $? "..."`).
check() {
  local ok=$1
  shift
  E2E_CHECKS=$((E2E_CHECKS + 1))
  if ((ok == 0)); then
    echo "  ok    $*"
  else
    echo "  FAIL  $*"
    E2E_FAILURES=$((E2E_FAILURES + 1))
  fi
}

# Float comparison a <= b (awk, so that "1e-5" and "0.0001" both work).
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }

e2e_run() {
  local name=$1 hard=$2
  shift 2
  local out="$E2E_TMP/$name.out" err="$E2E_TMP/$name.err" tfile="$E2E_TMP/$name.tstart"
  local start end
  rm -f "$tfile"
  start=$EPOCHREALTIME
  # The reader notes when training starts ("Epoch 1/" from rank 0, flushed) so that timing
  # assertions about a fault can leave out process start-up and data loading, which on a busy
  # 2-core machine vary by several seconds.
  timeout -k 5 "$hard" "$@" 2>"$err" | {
    seen=""
    while IFS= read -r line || [[ -n $line ]]; do
      printf '%s\n' "$line"
      if [[ -z $seen && $line == "Epoch 1/"* ]]; then echo "$EPOCHREALTIME" >"$tfile"; seen=1; fi
    done
  } >"$out"
  E2E_STATUS=${PIPESTATUS[0]}
  end=$EPOCHREALTIME
  E2E_ELAPSED=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
  local note="training did not start"
  if [[ -s $tfile ]]; then
    E2E_AFTER_START=$(awk -v a="$(cat "$tfile")" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    note="${E2E_AFTER_START}s after training started"
  else
    E2E_AFTER_START=$E2E_ELAPSED
  fi
  echo "  [$name] exit status $E2E_STATUS after ${E2E_ELAPSED}s ($note)"
  if ((E2E_STATUS == 124 || E2E_STATUS == 137)); then
    echo "  [$name] hit the hard timeout of ${hard}s"
  fi
}

# Print a run's output (on failure, for the log).
e2e_show() {
  local name=$1
  echo "  ---- $name stdout (last 15 lines):"
  tail -n 15 "$E2E_TMP/$name.out" | sed 's/^/  | /'
  echo "  ---- $name stderr (last 15 lines):"
  tail -n 15 "$E2E_TMP/$name.err" | sed 's/^/  | /'
}

assert_status() {  # assert_status <case> <0|nonzero|N>
  local name=$1 want=$2 ok=1
  case $want in
    nonzero) ((E2E_STATUS != 0 && E2E_STATUS != 124 && E2E_STATUS != 137)) && ok=0 ;;
    *) ((E2E_STATUS == want)) && ok=0 ;;
  esac
  check $ok "$name: exit status $E2E_STATUS (want $want)"
  ((ok == 0)) || e2e_show "$name"
}

assert_output() {  # assert_output <case> <extended regex>: in stdout or stderr
  local name=$1 re=$2
  if grep -Eq -- "$re" "$E2E_TMP/$name.out" "$E2E_TMP/$name.err"; then
    check 0 "$name: output has /$re/: $(grep -Eh -m1 -- "$re" "$E2E_TMP/$name.out" "$E2E_TMP/$name.err" | head -n1 | cut -c1-160)"
  else
    check 1 "$name: output lacks /$re/"
    e2e_show "$name"
  fi
}

# assert_faster <case> <limit s> [after_start]: the run took <= limit seconds from its launch,
# or with after_start from the start of training (from the launch if training never started).
assert_faster() {
  local name=$1 limit=$2 value=$E2E_ELAPSED what="after the launch"
  if [[ ${3:-} == after_start ]]; then
    value=$E2E_AFTER_START
    [[ -s $E2E_TMP/$name.tstart ]] && what="after training started"
  fi
  le "$value" "$limit"
  check $? "$name: ended ${value}s $what (limit ${limit}s)"
}

# No process of this test may outlive a case (killed ranks get 5 s to be reaped). Anything left
# is killed so that the next case starts clean, and the check fails.
assert_no_leftovers() {
  local name=$1 pids=""
  for _ in $(seq 50); do
    pids=$(e2e_leftover_pids)
    [[ -z $pids ]] && break
    sleep 0.1
  done
  if [[ -z $pids ]]; then
    check 0 "$name: no rnn_dist/mpirun process left"
  else
    check 1 "$name: processes left running: $(ps -o pid=,stat=,args= -p "$(paste -sd, <<<"$pids")" | cut -c1-120)"
    e2e_kill_leftovers
  fi
}

# The last "val_loss: X - val_acc: Y" of a run, as "X Y".
val_metrics() {
  sed -nE 's/.* - val_loss: ([0-9.naif-]+) - val_acc: ([0-9.naif-]+).*/\1 \2/p' "$E2E_TMP/$1.out" | tail -n 1
}

# The checkpoint path a run printed ("checkpoint: PATH").
checkpoint_of() {
  sed -n 's/^checkpoint: //p' "$E2E_TMP/$1.out" | tail -n 1
}

# same_training <what> <compare_checkpoints> <tolerance> <reference checkpoint> <checkpoint>
#               <reference "val_loss val_acc"> <"val_loss val_acc">: the parameters within
# <tolerance> (compare_checkpoints, bounded; 0 = bit-identical, what training on any number of
# ranks and threads gives since the exact gradient sum), and the printed validation metrics
# identical as printed.
same_training() {
  local what=$1 compare=$2 tolerance=$3 ref=$4 ckpt=$5 ref_metrics=$6 metrics=$7 status
  echo "  compare_checkpoints ($what) --tolerance $tolerance:"
  timeout -k 5 60 "$compare" "${ref:-missing}" "${ckpt:-missing}" --tolerance "$tolerance" \
      >"$E2E_TMP/cmp.$$.txt" 2>&1
  status=$?
  sed 's/^/  | /' "$E2E_TMP/cmp.$$.txt"
  check $status "$what: $(tail -n 1 "$E2E_TMP/cmp.$$.txt")"
  [[ -n $ref_metrics && $metrics == "$ref_metrics" ]]
  check $? "$what: val_loss val_acc '${metrics:-none}' vs '${ref_metrics:-none}' (identical as printed)"
}

e2e_finish() {
  if ((E2E_FAILURES)); then
    echo "$E2E_NAME: $E2E_FAILURES of $E2E_CHECKS checks FAILED"
    exit 1
  fi
  echo "$E2E_NAME: all $E2E_CHECKS checks passed"
  exit 0
}
