# Helpers of the checkpoint end-to-end tests (ckpt_resume.sh, ckpt_use.sh); source it.
#
#   ckpt_init NAME RNN_DIST COMPARE DATA   scratch folder $T (removed on exit with every process
#                                          whose command line names it), MPI env, counters
#   run NAME NP HARD_S args...             rnn_dist under mpirun -np NP (NP 0: no mpirun) with
#                                          output under $T/NAME; sets STATUS and ELAPSED
#   start NAME NP args...                  the same in the background; sets PID (of timeout)
#   finish NAME                            waits for a started run; sets STATUS and ELAPSED
#   rank_pids NAME                         pids of NAME's rnn_dist processes (not mpirun)
#   wait_for FILE SECONDS                  until FILE exists (status 1 on timeout)
#   check STATUS WHAT / expect_status NAME WANT / expect_output NAME REGEX
#   ckpt_done                              summary; exit 1 if any check failed
#
# Every check prints what it compared, so that a failing ctest log explains itself.
set -u -o pipefail

ckpt_init() {
  CKPT_TEST=$1 RNN_DIST=$2 COMPARE=$3 DATA=$4
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  export OMPI_MCA_orte_base_help_aggregate=0
  T=$(mktemp -d "${TMPDIR:-/tmp}/rnn_dist_${CKPT_TEST}.XXXXXX")
  FAILED=0 CHECKS=0
  trap ckpt_cleanup EXIT
  trap 'exit 130' INT TERM
  [[ -s $DATA ]] || { echo "$CKPT_TEST: no prepared data at $DATA"; exit 1; }
  echo "$CKPT_TEST: scratch folder $T"
}

ckpt_cleanup() {
  local pids
  pids=$(pgrep -f -- "$T" | grep -vx -e "$$" || true)
  # shellcheck disable=SC2086
  [[ -n $pids ]] && kill -CONT $pids 2>/dev/null && kill -KILL $pids 2>/dev/null
  if [[ -n ${CKPT_KEEP:-} ]]; then echo "$CKPT_TEST: kept $T"; else rm -rf "$T"; fi
}

check() {  # check <status 0 = ok> <description>
  local ok=$1
  shift
  CHECKS=$((CHECKS + 1))
  if ((ok == 0)); then echo "  ok    $*"; else echo "  FAIL  $*"; FAILED=$((FAILED + 1)); fi
}

show() {  # the tail of a run's log, for a failing check
  echo "  ---- $1.log (last 20 lines):"
  tail -n 20 "$T/$1.log" | sed 's/^/  | /'
}

# The command line of a run: NP 0 runs rnn_dist alone.
_cmd() {
  local np=$1
  shift
  if ((np == 0)); then
    echo "$RNN_DIST"
  else
    echo "mpirun -np $np --oversubscribe $RNN_DIST"
  fi
}

start() {  # start NAME NP args...: in the background, output in $T/NAME.log
  local name=$1 np=$2
  shift 2
  mkdir -p "$T/$name"
  START_TIME=$EPOCHREALTIME
  # shellcheck disable=SC2046
  timeout -k 5 "${HARD:-120}" $(_cmd "$np") "$@" >"$T/$name.log" 2>&1 &
  PID=$!
}

finish() {  # finish NAME: waits for the run started last
  wait "$PID"
  STATUS=$?
  ELAPSED=$(awk -v a="$START_TIME" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  # timeout(1) says 124 (137 after -k); a job whose rank was killed also ends with 137.
  TIMED_OUT=$(awk -v a="$ELAPSED" -v b="${HARD:-120}" 'BEGIN { print (a + 0 >= b - 0.5) }')
  echo "  [$1] exit status $STATUS after ${ELAPSED}s"
  ((TIMED_OUT)) && echo "  [$1] hit the hard timeout of ${HARD:-120}s"
  return 0
}

run() {  # run NAME NP HARD args...
  local name=$1 np=$2
  HARD=$3
  shift 3
  start "$name" "$np" "$@"
  finish "$name"
}

rank_pids() {  # rank_pids NAME: rnn_dist processes (not mpirun, not timeout) of run NAME
  local pid
  for pid in $(pgrep -f -- "--output-dir $T/$1( |\$)"); do
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == rnn_dist ]] && echo "$pid"
  done
  return 0
}

wait_for() {  # wait_for FILE SECONDS
  local i
  for ((i = 0; i < $2 * 20; i++)); do
    [[ -e $1 ]] && return 0
    sleep 0.05
  done
  return 1
}

expect_status() {  # expect_status NAME WANT (a number, or "nonzero")
  local ok=1
  if [[ $2 == nonzero ]]; then
    ((STATUS != 0 && !TIMED_OUT)) && ok=0
  else
    ((STATUS == $2)) && ok=0
  fi
  check $ok "$1: exit status $STATUS (want $2)"
  ((ok == 0)) || show "$1"
}

expect_output() {  # expect_output NAME REGEX
  local line
  if line=$(grep -Em1 -- "$2" "$T/$1.log"); then
    check 0 "$1: output has /$2/: ${line:0:160}"
  else
    check 1 "$1: output lacks /$2/"
    show "$1"
  fi
}

expect_faster() {  # expect_faster NAME LIMIT_S
  awk -v a="$ELAPSED" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'
  check $? "$1: took ${ELAPSED}s (limit $2s)"
}

# same_checkpoint WHAT A B [compare_checkpoints options]: parameters and optimizer state.
same_checkpoint() {
  local what=$1 a=$2 b=$3 out
  shift 3
  out=$("$COMPARE" "$a" "$b" --optimizer "$@" 2>&1)
  local status=$?
  check $status "$what: $(tail -n1 <<<"$out")"
  ((status == 0)) || sed 's/^/  | /' <<<"$out"
}

ckpt_done() {
  echo "$CKPT_TEST: $((CHECKS - FAILED))/$CHECKS checks passed"
  ((FAILED == 0))
}
