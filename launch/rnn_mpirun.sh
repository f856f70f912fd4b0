#!/usr/bin/env bash
# mpirun for rnn_dist, with the stop signals doing what the README says.
#
#   launch/rnn_mpirun.sh [mpirun options...] rnn_dist [rnn_dist options...]
#
# Runs `mpirun "$@"` with launch/mpi_env.sh's settings and waits for it; exits with its status.
# Open MPI forwards SIGUSR1 to every rank at once but treats SIGTERM and SIGINT as "kill the job"
# (SIGTERM to the ranks after a delay, then SIGKILL, and status 1). Here the first SIGTERM, SIGINT
# or SIGUSR1 becomes SIGUSR1 to mpirun: every rank stops at the next step boundary, rank 0 writes
# a checkpoint, and the job exits 3. A second SIGTERM/SIGINT ends the job at once (SIGTERM to
# mpirun). mpirun runs in its own process group, so that Ctrl-C in a terminal reaches this script
# and not the ranks directly.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=launch/mpi_env.sh
source "$here/mpi_env.sh"

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
setsid mpirun "$@" &
pid=$!
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
exit "$status"
