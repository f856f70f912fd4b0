#!/usr/bin/env bash
# mpirun for rnn_dist, with the stop signals doing what the README says and a limit on start-up.
#
#   launch/rnn_mpirun.sh [mpirun options...] rnn_dist [rnn_dist options...]
#
# Runs `mpirun "$@"` with launch/mpi_env.sh's settings and waits for it; exits with its status.
#
# Signals: Open MPI forwards SIGUSR1 to every rank at once but treats SIGTERM and SIGINT as "kill
# the job" (SIGTERM to the ranks after a delay, then SIGKILL, and status 1). Here the first
# SIGTERM, SIGINT or SIGUSR1 becomes SIGUSR1 to mpirun: every rank stops at the next step
# boundary, rank 0 writes a checkpoint, and the job exits 3. A second SIGTERM/SIGINT ends the job
# at once (SIGTERM to mpirun). mpirun runs in its own process group, so that Ctrl-C in a terminal
# reaches this script and not the ranks directly.
#
# Start-up: mpirun starts no rank before the Open MPI daemon (orted) of every other host has
# called back, and waits for that without a limit: a host that cannot open a TCP connection to
# this one (a firewall, the wrong interface) or whose daemon dies while starting leaves the job
# waiting silently forever. So rnn_dist's rank 0 prints "rnn_dist: started R ranks on H hosts"
# once every rank is past MPI_Init (asked to by RNN_DIST_ANNOUNCE_START, which this script sets
# and passes to the ranks), and if that line has not come RNN_MPIRUN_START_TIMEOUT seconds
# (default 120) after the launch, this script says so in one line, ends the job (SIGTERM to
# mpirun, SIGKILL 10 s later) and exits 75. RNN_MPIRUN_START_TIMEOUT=0 turns the limit off (for
# programs other than rnn_dist, which never print that line). The ranks' output passes through
# unchanged (tee, which ignores the stop signals so that it outlives mpirun).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=launch/mpi_env.sh
source "$here/mpi_env.sh"

start_limit=${RNN_MPIRUN_START_TIMEOUT:-120}
if ! [[ $start_limit =~ ^[0-9]+$ ]]; then
  echo "rnn_mpirun.sh: RNN_MPIRUN_START_TIMEOUT '$start_limit' must be a whole number of seconds (0: no limit)" >&2
  exit 2
fi
readonly kStatusStartTimeout=75  # comm::kStatusDeadline: a collective (here MPI_Init) timed out

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rnn_mpirun.XXXXXX") || exit 1
timers=()
# after <seconds> <command...>: runs the command that much later, in the background; the timer
# ends with this script (cleanup), its sleep included, so nothing of the launcher outlives the job.
after() {
  local seconds=$1
  shift
  (
    trap 'kill "$s" 2>/dev/null; exit 0' TERM
    sleep "$seconds" &
    s=$!
    wait "$s" && "$@"
  ) </dev/null >/dev/null 2>&1 &
  timers+=($!)
}
cleanup() {
  ((${#timers[@]})) && kill "${timers[@]}" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

signals=0
on_signal() {
  signals=$((signals + 1))
  if ((signals == 1)); then
    echo "rnn_mpirun.sh: $1: asking every rank to stop after a checkpoint (again to end at once)" >&2
    kill -USR1 "$pid" 2>/dev/null
  else
    kill -TERM "$pid" 2>/dev/null
  fi
}

start_timed_out=0
on_start_timer() {
  [[ -e $tmp/started ]] && return
  start_timed_out=1
  echo "rnn_mpirun.sh: the ranks did not all start within ${start_limit} s (RNN_MPIRUN_START_TIMEOUT; 0 for programs other than rnn_dist): mpirun is usually still waiting for a host's Open MPI daemon that could not start or cannot connect back to this host (a firewall? the wrong interface: --mca oob_tcp_if_include); ending the job" >&2
  kill -TERM "$pid" 2>/dev/null
  after 10 kill -KILL "$pid"
}

tee_pid=
if ((start_limit > 0)); then
  export RNN_DIST_ANNOUNCE_START=1
  mkfifo "$tmp/out" || exit 1
  # The copy of mpirun's output: byte for byte to this script's stdout, and to a grep that
  # notes the start line and then quits (tee -p carries on without it).
  (
    trap '' INT TERM USR1 ALRM
    exec tee -p >(grep -q -m 1 '^rnn_dist: started ' && : >"$tmp/started") <"$tmp/out"
  ) &
  tee_pid=$!
  setsid mpirun -x RNN_DIST_ANNOUNCE_START "$@" >"$tmp/out" &
  pid=$!
  trap on_start_timer ALRM
  after "$start_limit" kill -ALRM $$
else
  setsid mpirun "$@" &
  pid=$!
fi
trap 'on_signal SIGTERM' TERM
trap 'on_signal SIGINT' INT
trap 'on_signal SIGUSR1' USR1
status=0
# `wait` returns early when a trapped signal arrives: wait again until mpirun has really ended.
while :; do
  wait "$pid"
  status=$?
  kill -0 "$pid" 2>/dev/null || break
done
# The rest of the output, then the status. A remote shell of mpirun's that outlives it (ssh to a
# host that does not answer) can keep the pipe open: give the copy 5 s, not more.
if [[ -n $tee_pid ]]; then
  after 5 kill "$tee_pid"
  while kill -0 "$tee_pid" 2>/dev/null; do wait "$tee_pid"; done
fi
((start_timed_out)) && exit "$kStatusStartTimeout"
exit "$status"
