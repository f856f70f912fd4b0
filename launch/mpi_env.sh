# shellcheck shell=bash
# Open MPI settings for every rnn_dist launch (source it: launch scripts and tests do).
#
# - Root: Open MPI refuses to start as root (the normal case in containers, CI and a root Slurm)
#   unless told that is intended; set only when this shell is root.
# - Out-of-band keepalive: mpirun and the orted of every host talk over one TCP connection each
#   (the OOB). Open MPI's defaults probe an idle connection only after 300 s and give up after 9
#   probes 20 s apart (8 minutes in all), so a host whose link died kept its orted and the job
#   waited. 10 s idle, then 3 probes 5 s apart: a dead host is noticed within about 25 s, and a
#   daemon whose mpirun is gone ends its ranks and itself.
# - Not changed: odls_base_sigkill_timeout (1 s). On SIGTERM/SIGINT to mpirun itself Open MPI
#   sends the ranks SIGCONT, waits that long, SIGTERM, waits again, then SIGKILL, and mpirun exits 1
#   whatever the ranks did; a longer delay would give the stop checkpoint more time but slows
#   every abort by as much (the same path ends a failed job). launch/rnn_mpirun.sh turns those
#   signals into SIGUSR1, which mpirun forwards at once, and so exits 3 (see the README).
# Values already in the environment win, so a user can override any of them.
if [[ $(id -u) -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_oob_tcp_keepalive_time=${OMPI_MCA_oob_tcp_keepalive_time:-10}
export OMPI_MCA_oob_tcp_keepalive_intvl=${OMPI_MCA_oob_tcp_keepalive_intvl:-5}
export OMPI_MCA_oob_tcp_keepalive_probes=${OMPI_MCA_oob_tcp_keepalive_probes:-3}
