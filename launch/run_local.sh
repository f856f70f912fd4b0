#!/usr/bin/env bash
# Runs rnn_dist with several ranks on this machine.
#
#   launch/run_local.sh [-n RANKS] [--oversubscribe] [--bin PATH] [--] [rnn_dist options...]
#
# RANKS defaults to the number of cores. Each rank gets cores/RANKS threads (at least 1), so that
# ranks x threads never exceeds the cores; with more ranks than cores you must say
# --oversubscribe (useful to test correctness; its timings mean nothing). mpirun runs through
# launch/rnn_mpirun.sh: Open MPI settings from launch/mpi_env.sh (the root variables when run as
# root, keepalive), and SIGTERM/SIGINT (Ctrl-C) stop every rank after a checkpoint with status 3.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin="$here/../build/rnn_dist"
cores=$(nproc)
ranks=$cores
oversubscribe=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    -n|--ranks) ranks="$2"; shift 2 ;;
    --oversubscribe) oversubscribe=1; shift ;;
    --bin) bin="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) break ;;
  esac
done

if ! [[ "$ranks" =~ ^[1-9][0-9]*$ ]]; then
  echo "run_local.sh: -n $ranks is not a positive number of ranks" >&2; exit 2
fi
if [[ ! -x "$bin" ]]; then
  echo "run_local.sh: no rnn_dist binary at $bin (build first: cmake --preset release && cmake --build --preset release)" >&2
  exit 2
fi
mpi_args=(-np "$ranks")
if (( ranks > cores )); then
  if (( ! oversubscribe )); then
    echo "run_local.sh: $ranks ranks on $cores cores: add --oversubscribe to run anyway (correctness only, slow)" >&2
    exit 2
  fi
  mpi_args+=(--oversubscribe --bind-to none)
  threads=1
else
  threads=$(( cores / ranks ))
  mpi_args+=(--bind-to core --map-by "slot:PE=$threads")
fi
# The user's own --threads wins (rnn_dist refuses an option given twice).
extra=(--threads "$threads")
for a in "$@"; do
  [[ $a == --threads || $a == --threads=* ]] && extra=()
done
echo "run_local.sh: $ranks rank(s) x $threads thread(s) on $cores core(s)" >&2
exec "$here/rnn_mpirun.sh" "${mpi_args[@]}" "$bin" "$@" "${extra[@]}"
