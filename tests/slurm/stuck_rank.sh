#!/bin/sh
# stuck_rank.sh [rnn_dist options...]: $RNN_DIST_REAL (rnn_dist), except that rank 1 hangs before
# it starts, as a rank whose binary sits on a hung file system would. The rank comes from the
# launcher's environment (mpirun: OMPI_COMM_WORLD_RANK; srun: SLURM_PROCID). The hang is a loop
# of short sleeps in this shell, so that nothing outlives the shell by more than a second when
# the launcher kills it. Used by slurm_start.sh.
rank=${OMPI_COMM_WORLD_RANK:-${SLURM_PROCID:-0}}
if [ "$rank" = 1 ]; then
  while :; do sleep 1; done
fi
exec "$RNN_DIST_REAL" "$@"
