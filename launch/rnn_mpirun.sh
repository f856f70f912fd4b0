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
# Start-up (launch/start_limit.sh): mpirun starts no rank before the Open MPI daemon (orted) of
# every other host has called back, and waits for that without a limit. So if rank 0's
# "rnn_dist: started R ranks on H hosts" has not come RNN_DIST_START_TIMEOUT seconds (default
# 120; the older name RNN_MPIRUN_START_TIMEOUT works too) after the launch, this script says so
# in one line, ends the job (SIGTERM to mpirun, SIGKILL 10 s later) and exits 75;
# RNN_DIST_START_TIMEOUT=0 turns the limit off (for programs other than rnn_dist, which never
# print that line).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=launch/mpi_env.sh
source "$here/mpi_env.sh"

# shellcheck source=launch/start_limit.sh
source "$here/start_limit.sh"
start_limit_init rnn_mpirun.sh "mpirun is usually still waiting for a host's Open MPI daemon that could not start or cannot connect back to this host (a firewall? the wrong interface: --mca oob_tcp_if_include)" || exit

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

# mpirun in its own session, so that Ctrl-C in a terminal reaches this script, not the ranks.
if ((START_LIMIT > 0)); then
  start_limit_launch setsid mpirun -x RNN_DIST_ANNOUNCE_START "$@" || exit 1
else
  start_limit_launch setsid mpirun "$@"
fi
pid=$START_PID
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
start_limit_drain
exit "$(start_limit_status "$status")"
