# shellcheck shell=bash
# The launchers' limit on start-up (sourced by launch/rnn_mpirun.sh and launch/slurm.sbatch).
#
# No rank of a job exists until the launcher has started every one (Open MPI's mpirun waits for
# every host's daemon to call back, srun for every task's PMIx fence), and neither launcher limits
# that wait: a host that cannot connect back, a daemon that dies while starting, or a rank stuck
# before MPI_Init (a hung file system) leaves the job waiting silently until someone notices, or
# until the allocation's time runs out. So rnn_dist's rank 0 prints "rnn_dist: started R ranks on
# H hosts" once every rank is past MPI_Init (asked to by RNN_DIST_ANNOUNCE_START, which
# start_limit_launch sets), and if that line has not come within the limit the launcher says so in
# one line, ends the job (SIGTERM to the launcher, SIGKILL 10 s later) and exits 75. The ranks'
# output passes through unchanged (tee, which ignores the stop signals so that it outlives the
# launcher).
#
#   start_limit_init NAME HINT   NAME: this launcher's name in messages; HINT: what usually holds
#                                the start (said in the timeout line). Reads the limit from
#                                RNN_DIST_START_TIMEOUT (or the older RNN_MPIRUN_START_TIMEOUT),
#                                default 120 s, 0 = no limit (for programs other than rnn_dist,
#                                which never print the line). Returns 2 after one line naming the
#                                variable when it is not a whole number.
#   start_limit_launch CMD...    runs CMD in the background, its output through the watch when
#                                the limit is on; sets START_PID. Installs an ALRM trap.
#   start_limit_drain            after CMD ended: the rest of its output (at most 5 s more: a
#                                remote shell that outlives mpirun can keep the pipe open).
#   start_limit_status STATUS    prints 75 when the limit ended the job, else STATUS.
#   after SECONDS CMD...         CMD that much later, in the background (a timer of the script,
#                                ended with it by start_limit_cleanup).
#   start_limit_cleanup          ends the timers and removes the scratch folder (the EXIT trap).
readonly kStatusStartTimeout=75  # comm::kStatusDeadline: a collective (here MPI_Init) timed out

start_limit_init() {
  START_NAME=$1 START_HINT=$2 START_VAR=RNN_DIST_START_TIMEOUT
  [[ -z ${RNN_DIST_START_TIMEOUT+x} && -n ${RNN_MPIRUN_START_TIMEOUT+x} ]] && START_VAR=RNN_MPIRUN_START_TIMEOUT
  START_LIMIT=${!START_VAR:-120}
  if ! [[ $START_LIMIT =~ ^[0-9]+$ ]]; then
    echo "$START_NAME: $START_VAR '$START_LIMIT' must be a whole number of seconds (0: no limit)" >&2
    return 2
  fi
  START_TMP=$(mktemp -d "${TMPDIR:-/tmp}/rnn_dist_start.XXXXXX") || return 1
  START_TIMERS=() START_TEE_PID="" START_PID="" START_TIMED_OUT=0
  trap start_limit_cleanup EXIT
}

after() {
  local seconds=$1
  shift
  (
    trap 'kill "$s" 2>/dev/null; exit 0' TERM
    sleep "$seconds" &
    s=$!
    wait "$s" && "$@"
  ) </dev/null >/dev/null 2>&1 &
  START_TIMERS+=($!)
}

start_limit_cleanup() {
  ((${#START_TIMERS[@]})) && kill "${START_TIMERS[@]}" 2>/dev/null
  rm -rf "$START_TMP"
}

start_limit_on_timer() {
  [[ -e $START_TMP/started ]] && return
  START_TIMED_OUT=1
  echo "$START_NAME: the ranks did not all start within ${START_LIMIT} s ($START_VAR; 0 for programs other than rnn_dist): $START_HINT; ending the job" >&2
  kill -TERM "$START_PID" 2>/dev/null
  after 10 kill -KILL "$START_PID"
}

start_limit_launch() {
  if ((START_LIMIT == 0)); then
    "$@" &
    START_PID=$!
    return 0
  fi
  export RNN_DIST_ANNOUNCE_START=1
  mkfifo "$START_TMP/out" || return 1
  # The copy of the launcher's output: byte for byte to this script's stdout, and to a grep
  # that notes the start line and then quits (tee -p carries on without it).
  (
    trap '' INT TERM USR1 ALRM
    exec tee -p >(grep -q -m 1 '^rnn_dist: started ' && : >"$START_TMP/started") <"$START_TMP/out"
  ) &
  START_TEE_PID=$!
  "$@" >"$START_TMP/out" &
  START_PID=$!
  trap start_limit_on_timer ALRM
  after "$START_LIMIT" kill -ALRM $$
}

start_limit_drain() {
  [[ -n $START_TEE_PID ]] || return 0
  after 5 kill "$START_TEE_PID"
  while kill -0 "$START_TEE_PID" 2>/dev/null; do wait "$START_TEE_PID"; done
}

start_limit_status() {
  if ((START_TIMED_OUT)); then echo "$kStatusStartTimeout"; else echo "$1"; fi
}
