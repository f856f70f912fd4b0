#!/usr/bin/env bash
# slurm_cluster.sh start|stop|status|env
#
# A real, private Slurm on this one machine for the tests: munged (as the munge user, its own
# key, socket, pid and log under the state folder), slurmctld -D and two slurmd -D (n1, n2, both
# NodeHostname=localhost, ports 17001-17002) with a cgroup-free configuration
# (proctrack/linuxproc, task/none, select/cons_tres CR_CPU, no accounting, SlurmUser=root) and
# two partitions on the same nodes for preemption: `low` (default, PriorityTier 1,
# PreemptMode=REQUEUE, GraceTime) and `high` (PriorityTier 10).
# Non-default ports (slurmctld 16817, slurmd 17001-17002) so that a system Slurm never clashes.
#
#   start   needs root (status 77 = skip without root or without slurm-wlm/munge); writes everything under $RNN_DIST_SLURM_STATE (default
#           /tmp/rnn_dist_slurm), waits (bounded) until sinfo shows n1 and n2 idle.
#           A failed start stops whatever it started.
#   stop    cancels every job, kills the daemons and every process of a job (by the state
#           folder's pids and by the slurmstepd processes' children), removes the state folder
#           (the tests keep their scratch folders in it too). Safe to call twice and after a
#           failed start. A watchdog started by `start` calls it after RNN_DIST_SLURM_LIFETIME
#           seconds (default 1800) in case nobody does (ctest itself killed).
#   status  sinfo/squeue of the private cluster (status 1 if it is not running)
#   env     prints `export SLURM_CONF=...` for eval
#
# Clients find the cluster through SLURM_CONF=$RNN_DIST_SLURM_STATE/slurm.conf; the munge socket
# is named in slurm.conf (AuthInfo=socket=...), so no client needs the system munged.
set -u -o pipefail

STATE=${RNN_DIST_SLURM_STATE:-/tmp/rnn_dist_slurm}
CTLD_PORT=${RNN_DIST_SLURM_CTLD_PORT:-16817}
GRACE=${RNN_DIST_SLURM_GRACE:-30}
CPUS=$(nproc)
export SLURM_CONF=$STATE/slurm.conf

log() { echo "slurm_cluster: $*" >&2; }

# Pids recorded by start (munged, slurmctld, slurmd n1/n2) and their status.
daemon_pids() {
  local f
  for f in "$STATE"/pids/*.pid "$STATE"/munge/munged.pid; do
    [[ -s $f ]] && cat "$f"
  done 2>/dev/null
}

# Every process below a slurmstepd (job processes: batch shell, mpirun, ranks, orted) of this
# cluster. slurmstepd processes of our slurmd are found as children of the slurmd pids and by
# their command line naming a node of ours ("slurmstepd: [JOBID.STEP]" has no folder in it, so
# the parent link is what ties them to us).
descendants() {  # descendants PID...: all descendants, deepest last
  local p kids
  for p in "$@"; do
    kids=$(pgrep -P "$p" 2>/dev/null | tr '\n' ' ')
    [[ -n $kids ]] && { echo $kids; descendants $kids; }
  done
}

cmd_stop() {
  local pids=() p all w
  # The watchdog (unless it is what runs this stop) and its sleep.
  w=$(cat "$STATE/watchdog.pid" 2>/dev/null)
  if [[ -n $w && $w != "$$" ]]; then
    kill -TERM -- "-$w" 2>/dev/null
    kill -KILL -- "-$w" 2>/dev/null
  fi
  if [[ -s $SLURM_CONF ]] && command -v scancel >/dev/null; then
    # Bounded: scancel talks to slurmctld (if it still runs).
    timeout 10 scancel --quiet --full --signal=KILL --user=root 2>/dev/null
    timeout 10 scancel --quiet --user=root 2>/dev/null
  fi
  mapfile -t pids < <(daemon_pids)
  # Job processes: everything below our slurmd processes (slurmstepd and its children). A
  # slurmstepd outlives its slurmd, so also take slurmstepd processes whose parent is init and
  # whose environment names our slurm.conf.
  all=()
  for p in "${pids[@]}"; do
    kill -0 "$p" 2>/dev/null && all+=($(descendants "$p"))
  done
  for p in $(pgrep -x slurmstepd 2>/dev/null); do
    if { tr "\0" "\n" <"/proc/$p/environ"; } 2>/dev/null | grep -qx "SLURM_CONF=$SLURM_CONF" ||
       grep -qa -- "$STATE" "/proc/$p/cmdline" 2>/dev/null; then
      all+=("$p" $(descendants "$p"))
    fi
  done
  # Processes of a job that left the tree (proctrack/linuxproc does not follow them): their
  # environment names our SLURM_CONF.
  for p in $(pgrep -f 'rnn_dist|mpirun|orted|prterun|srun' 2>/dev/null); do
    [[ $p == "$$" ]] && continue
    { tr "\0" "\n" <"/proc/$p/environ"; } 2>/dev/null | grep -qx "SLURM_CONF=$SLURM_CONF" && all+=("$p")
  done
  if ((${#all[@]})); then
    kill -CONT "${all[@]}" 2>/dev/null
    kill -KILL "${all[@]}" 2>/dev/null
  fi
  if ((${#pids[@]})); then
    kill -TERM "${pids[@]}" 2>/dev/null
    local i
    for i in $(seq 50); do
      local alive=0
      for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
      ((alive)) || break
      sleep 0.1
    done
    kill -KILL "${pids[@]}" 2>/dev/null
  fi
  # Anything of ours left (daemons started with our config or munge socket in the command line).
  for p in $(pgrep -f -- "$STATE" 2>/dev/null); do
    [[ $p == "$$" || $p == "$PPID" ]] && continue
    kill -KILL "$p" 2>/dev/null
  done
  sleep 0.2
  rm -rf "$STATE"
  # Check: nothing of ours may be left (the next CI run uses this machine).
  local left
  left=$(pgrep -f -- "$STATE" | grep -vx -e "$$" -e "$PPID" || true)
  for p in $(pgrep -x 'slurmctld|slurmd|slurmstepd|munged' 2>/dev/null); do
    { tr "\0" "\n" <"/proc/$p/cmdline"; } 2>/dev/null | grep -q -- "$STATE" && left+=" $p"
  done
  if [[ -n ${left// /} ]]; then
    log "still running after stop: $(ps -o pid=,args= -p "$(echo $left | tr ' ' ,)" | tr '\n' ';')"
    return 1
  fi
  log "stopped; nothing left"
  return 0
}

write_conf() {
  local node_cpus=$CPUS
  cat >"$SLURM_CONF" <<EOF
# Written by tests/slurm/slurm_cluster.sh: a private test cluster, removed by 'stop'.
ClusterName=rnndisttest
SlurmctldHost=localhost
SlurmctldPort=$CTLD_PORT
SlurmdPort=17001
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$STATE/munge/munge.socket
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool/%n
SlurmctldPidFile=$STATE/pids/slurmctld.pid
SlurmdPidFile=$STATE/pids/slurmd.%n.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
# Two slurmd on one machine: each its own TmpFS (the pmix plugin puts spmix_appdir_* there).
TmpFS=$STATE/tmp/%n
ReturnToService=2
SlurmdTimeout=30
MessageTimeout=10
KillWait=5
InactiveLimit=0
MinJobAge=300
JobRequeue=1
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
# At preemption, send the job's --signal (e.g. B:USR1) at once instead of SIGTERM to the steps.
SlurmctldParameters=preempt_send_user_signal
PreemptExemptTime=0
NodeName=n[1-2] NodeHostname=localhost Port=17001-17002 CPUs=$node_cpus State=UNKNOWN
PartitionName=low Nodes=n[1-2] Default=YES PriorityTier=1 PreemptMode=REQUEUE GraceTime=$GRACE MaxTime=INFINITE State=UP
PartitionName=high Nodes=n[1-2] Default=NO PriorityTier=10 PreemptMode=OFF MaxTime=INFINITE State=UP
EOF
  # No cgroup.conf is needed: nothing here loads a cgroup plugin.
}

wait_idle() {  # wait_idle SECONDS
  local i states
  for i in $(seq $(($1 * 2))); do
    local f
    for f in "$STATE"/pids/*.bg.pid; do
      kill -0 "$(cat "$f")" 2>/dev/null || { log "$(basename "$f" .bg.pid) exited"; return 1; }
    done
    states=$(timeout 5 sinfo -h -N -o '%N %t' 2>/dev/null | sort -u | tr '\n' ' ')
    if [[ $states == *"n1 idle"* && $states == *"n2 idle"* ]]; then
      log "nodes: $states"
      return 0
    fi
    sleep 0.5
  done
  log "nodes not idle after $1 s: ${states:-no answer from slurmctld}"
  return 1
}

cmd_start() {
  # Status 77 (ctest's skip) when this machine cannot run the private cluster.
  if [[ $(id -u) -ne 0 ]]; then log "start needs root: skipped"; return 77; fi
  local bin
  for bin in munged munge unmunge slurmctld slurmd sinfo scontrol sbatch; do
    command -v "$bin" >/dev/null || [[ -x /usr/sbin/$bin ]] ||
      { log "$bin not installed (launch/install_deps.sh --extras): skipped"; return 77; }
  done
  export PATH=$PATH:/usr/sbin
  if [[ -e $STATE ]]; then log "state folder $STATE exists: stopping the previous cluster"; cmd_stop; fi
  if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$CTLD_PORT" 2>/dev/null; then
    log "port $CTLD_PORT is in use by another program"; return 1
  fi
  mkdir -p "$STATE"/{ctld,spool/n1,spool/n2,tmp/n1,tmp/n2,pids,log,munge}
  chmod 0755 "$STATE"
  # munge: a private key, socket, pid, log and seed, owned by the munge user.
  dd if=/dev/urandom of="$STATE/munge/munge.key" bs=1 count=1024 status=none
  chown -R munge:munge "$STATE/munge"
  chmod 0700 "$STATE/munge"
  chmod 0400 "$STATE/munge/munge.key"
  # Clients must reach the socket: the socket folder must be searchable by everyone.
  chmod 0755 "$STATE/munge"
  runuser -u munge -- munged --socket="$STATE/munge/munge.socket" \
    --key-file="$STATE/munge/munge.key" --pid-file="$STATE/munge/munged.pid" \
    --log-file="$STATE/munge/munged.log" --seed-file="$STATE/munge/munged.seed" \
    --num-threads=2 || { log "munged failed: $(tail -n 3 "$STATE/munge/munged.log" 2>/dev/null)"; cmd_stop; return 1; }
  local i
  for i in $(seq 50); do [[ -S $STATE/munge/munge.socket ]] && break; sleep 0.1; done
  if ! munge -n -S "$STATE/munge/munge.socket" | unmunge -S "$STATE/munge/munge.socket" >/dev/null; then
    log "munge round trip failed"; cmd_stop; return 1
  fi
  write_conf
  # -c: clean start (no saved state); -i: ignore errors reading state.
  setsid slurmctld -D -c -i -f "$SLURM_CONF" >"$STATE/log/slurmctld.stdout" 2>&1 </dev/null &
  echo $! >"$STATE/pids/slurmctld.bg.pid"
  for n in n1 n2; do
    setsid slurmd -D -N "$n" -f "$SLURM_CONF" >"$STATE/log/slurmd.$n.stdout" 2>&1 </dev/null &
    echo $! >"$STATE/pids/slurmd.$n.bg.pid"
  done
  if ! wait_idle 40; then
    tail -n 8 "$STATE"/log/* >&2 2>/dev/null
    cmd_stop
    return 1
  fi
  # Watchdog: if nobody calls stop (ctest itself killed), the cluster stops itself after
  # $RNN_DIST_SLURM_LIFETIME s (default 1800, more than the whole suite). Its own process group, so
  # that stop can end it together with its sleep.
  local self
  self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
  RNN_DIST_SLURM_STATE=$STATE setsid bash -c 'trap "kill \$s 2>/dev/null; exit 0" TERM
    sleep "$1" & s=$!; wait $s; exec bash "$2" stop' watchdog "${RNN_DIST_SLURM_LIFETIME:-1800}" "$self" \
    >>"$STATE/log/watchdog.log" 2>&1 </dev/null &
  echo $! >"$STATE/watchdog.pid"
  log "running; SLURM_CONF=$SLURM_CONF (stops itself after ${RNN_DIST_SLURM_LIFETIME:-1800} s)"
  return 0
}

cmd_status() {
  [[ -s $SLURM_CONF ]] || { log "not running (no $SLURM_CONF)"; return 1; }
  timeout 5 sinfo && timeout 5 squeue
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) echo "export SLURM_CONF=$SLURM_CONF" ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
