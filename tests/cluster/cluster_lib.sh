# shellcheck shell=bash
# Simulated multi-host cluster for the tests in tests/cluster/ (source it; do not run it).
# Needs root, iproute2 (ip, tc), util-linux (unshare) and Open MPI. Sources tests/e2e/common.sh,
# so `check`, `e2e_run`, `assert_*` and $E2E_TMP are available.
#
#   cluster_init <test name> <N>   N hosts h1..hN: one network namespace each (<prefix>hK), with
#                                  lo up and eth0 (a veth) at 10.213.37.K/24, the other end of
#                                  the veth (named hK) enslaved to a bridge in a switch namespace
#                                  (<prefix>sw), so no address of the subnet ever appears in the
#                                  root namespace. /etc/netns/<prefix>hK/hosts names every host
#                                  (ip netns exec bind-mounts it over /etc/hosts). Prefix rdc<pid>.
#                                  Cleanup (also on failure, SIGINT, SIGTERM) kills every process
#                                  of every namespace (SIGCONT, SIGKILL), deletes the namespaces
#                                  and /etc/netns/<prefix>*. CLUSTER_TCP_RETRIES2=N (opt-in) sets
#                                  net.ipv4.tcp_retries2 in every host.
#   cluster_exec <host> cmd...     run cmd in host (its netns, hostname, private mounts)
#   cluster_mount <host> tmpfs DST | cluster_mount <host> bind SRC DST
#                                  private mounts of that host, applied to every later command
#                                  started on it (also ranks started by mpirun); cluster_mounts_clear
#   cluster_hostfile <slots>       write $CLUSTER_DIR/hostfile.<slots> (h1..hN), print its path
#   cluster_mpirun_cmd             fill the array CLUSTER_MPIRUN: the command line that runs mpirun
#                                  inside h1 with the cluster's settings; append -np, etc.
#                                  $CLUSTER_FAULT, if set, becomes RNN_DIST_FAULT of every rank;
#                                  $CLUSTER_MPIRUN_TIMEOUT (default 120) bounds the whole run
#   cluster_link_down <host> / cluster_link_up <host>   the switch side of host's link
#   cluster_host_pids <host>       pids of every process in host's network namespace
#   cluster_all_pids               the same for every host
#   cluster_orted_pid <host>       the orted running on host (empty if none)
#   cluster_orted_pids <host>      every process named orted on host, one a line
#   cluster_rate_limit <rate|off>  tbf qdisc on every switch-side veth (e.g. 100mbit)
#   cluster_wait_gone <limit s>    wait until no process is left in any host; sets CLUSTER_GONE_AFTER
#   cluster_kill_all               SIGCONT + SIGKILL every process in every host
#
# Open MPI: mpirun runs in h1's namespace (hostname h1) and reaches h2..hN through cluster_rsh.sh
# (plm_rsh_agent). h1 is local to mpirun (ompi#13154: a hostfile name that resolves to mpirun's
# own address is treated as local, which is what h1 is meant to be here).

source "$(dirname "${BASH_SOURCE[0]}")/../e2e/common.sh"

CLUSTER_SUBNET_BASE=10.213.37
CLUSTER_SUBNET=$CLUSTER_SUBNET_BASE.0/24
CLUSTER_AGENT=$(readlink -f "$(dirname "${BASH_SOURCE[0]}")/cluster_rsh.sh")
CLUSTER_N=0
CLUSTER_PREFIX=""
CLUSTER_NAMESPACES=()

# Namespaces of earlier runs whose test shell is gone (killed with SIGKILL: no trap ran).
cluster_sweep_stale() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^rdc[0-9]+(sw|h[0-9]+)$'); do
    pid=${ns#rdc}
    pid=${pid%%[sh]*}
    kill -0 "$pid" 2>/dev/null && continue
    cluster_kill_ns "$ns"
    ip netns del "$ns" 2>/dev/null
    rm -rf "/etc/netns/$ns"
  done
}

cluster_kill_ns() {  # SIGCONT + SIGKILL every process of one namespace, wait up to 5 s for them
  local ns=$1 pids
  for _ in $(seq 50); do
    pids=$(ip netns pids "$ns" 2>/dev/null)
    [[ -z $pids ]] && return 0
    # shellcheck disable=SC2086
    kill -CONT $pids 2>/dev/null
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    sleep 0.1
  done
  echo "cluster: processes still in $ns after SIGKILL: $pids" >&2
  return 1
}

cluster_init() {
  local name=$1 n=$2 k ns sw
  ((EUID == 0)) || { echo "cluster tests need root (network namespaces)" >&2; exit 1; }
  command -v tc >/dev/null || { echo "cluster tests need tc (iproute2)" >&2; exit 1; }
  e2e_init "$name"
  # Own the traps: the cluster goes first, then common.sh's scratch-folder cleanup.
  trap 'cluster_cleanup; e2e_cleanup' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  [[ -f $(dirname "${BASH_SOURCE[0]}")/../../launch/mpi_env.sh ]] &&
    source "$(dirname "${BASH_SOURCE[0]}")/../../launch/mpi_env.sh"
  cluster_sweep_stale
  CLUSTER_N=$n
  CLUSTER_PREFIX=rdc$$
  CLUSTER_DIR=$E2E_TMP/cluster
  export CLUSTER_DIR
  mkdir -p "$CLUSTER_DIR/mounts"
  echo "$CLUSTER_PREFIX" >"$CLUSTER_DIR/prefix"
  # The mount namespace the hosts are made from: this test's own (the "machine's" file system).
  # The agent enters it before it enters a host, so that one host's private mounts (mpirun runs
  # in h1's) never reach another host, as on real machines.
  echo "/proc/$$/ns/mnt" >"$CLUSTER_DIR/mntns"
  sw=${CLUSTER_PREFIX}sw
  CLUSTER_NAMESPACES=("$sw")
  ip netns add "$sw" || return 1
  ip -n "$sw" link add br0 type bridge || return 1
  ip -n "$sw" link set br0 up
  ip -n "$sw" link set lo up
  local hosts="127.0.0.1 localhost"$'\n'
  for ((k = 1; k <= n; k++)); do hosts+="$CLUSTER_SUBNET_BASE.$k h$k"$'\n'; done
  for ((k = 1; k <= n; k++)); do
    ns=$CLUSTER_PREFIX"h$k"
    CLUSTER_NAMESPACES+=("$ns")
    mkdir -p "/etc/netns/$ns"
    printf '%s' "$hosts" >"/etc/netns/$ns/hosts"
    ip netns add "$ns" || return 1
    # The veth is made inside the switch namespace and its peer moved straight into the host:
    # short names (hK, eth0) that never exist in the root namespace.
    ip -n "$sw" link add "h$k" type veth peer name eth0 netns "$ns" || return 1
    ip -n "$sw" link set "h$k" master br0
    ip -n "$sw" link set "h$k" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$CLUSTER_SUBNET_BASE.$k/24" dev eth0
    ip -n "$ns" link set eth0 up
    # Opt-in (never by default, it would hide the product's behaviour): a shorter TCP
    # retransmission give-up for every host, as a tuned cluster would have (sysctl per netns).
    if [[ -n ${CLUSTER_TCP_RETRIES2:-} ]]; then
      ip netns exec "$ns" sysctl -qw "net.ipv4.tcp_retries2=$CLUSTER_TCP_RETRIES2" || return 1
    fi
  done
  echo "cluster: $n hosts h1..h$n in namespaces ${CLUSTER_PREFIX}h1..h$n, subnet $CLUSTER_SUBNET"
}

cluster_cleanup() {
  local ns
  [[ -z $CLUSTER_PREFIX ]] && return 0
  for ns in "${CLUSTER_NAMESPACES[@]}"; do cluster_kill_ns "$ns"; done
  for ns in "${CLUSTER_NAMESPACES[@]}"; do
    ip netns del "$ns" 2>/dev/null
    rm -rf "/etc/netns/$ns"
  done
  # Nothing is mounted in the root namespace by design; undo anything that did leak there.
  if [[ -n ${CLUSTER_DIR:-} ]]; then
    awk -v d="$E2E_TMP" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r |
      while read -r m; do umount -l "$m"; done
  fi
  CLUSTER_PREFIX=""
}

cluster_ns() { echo "$CLUSTER_PREFIX$1"; }

cluster_exec() {
  local host=$1
  shift
  ip netns exec "$CLUSTER_PREFIX$host" unshare --uts --mount --propagation private \
      "$CLUSTER_AGENT" --inner "$host" --exec "$@"
}

cluster_mount() {  # cluster_mount <host> tmpfs DST | bind SRC DST
  local host=$1
  shift
  echo "$*" >>"$CLUSTER_DIR/mounts/$host"
}

cluster_mounts_clear() { rm -f "$CLUSTER_DIR"/mounts/*; }

cluster_hostfile() {
  local slots=$1 k
  for ((k = 1; k <= CLUSTER_N; k++)); do echo "h$k slots=$slots"; done >"$CLUSTER_DIR/hostfile.$slots"
  echo "$CLUSTER_DIR/hostfile.$slots"
}

# mpirun inside h1 with the cluster's transport settings. Fault-injection variables are passed
# to the ranks on every host with -x (orted started by the agent does not inherit mpirun's env).
cluster_mpirun_cmd() {
  # shellcheck disable=SC2054  # tcp,self is one MCA value
  CLUSTER_MPIRUN=(timeout -k 5 "${CLUSTER_MPIRUN_TIMEOUT:-120}"
                  ip netns exec "${CLUSTER_PREFIX}h1" unshare --uts --mount --propagation private
                  "$CLUSTER_AGENT" --inner h1 --exec
                  mpirun --mca plm_rsh_agent "$CLUSTER_AGENT" --mca plm_rsh_no_tree_spawn 1
                  --mca btl tcp,self --mca btl_tcp_if_include "$CLUSTER_SUBNET"
                  --mca oob_tcp_if_include "$CLUSTER_SUBNET" --bind-to none
                  -x CLUSTER_DIR)
  [[ -n ${CLUSTER_FAULT:-} ]] && CLUSTER_MPIRUN+=(-x "RNN_DIST_FAULT=$CLUSTER_FAULT")
  return 0
}

# cluster_small_dataset <reviews per split and label> <out.rnn_dist>: a valid prepared file of the
# first N reviews of each split and label of the aclImdb folder next to $DATA (the e2e fixture).
cluster_small_dataset() {
  local n=$1 out=$2 acl split label dir
  acl=$(dirname "$DATA")/aclImdb
  dir=$E2E_TMP/small.$n/aclImdb
  for split in train test; do
    for label in pos neg; do
      mkdir -p "$dir/$split/$label"
      find "$acl/$split/$label" -name '*.txt' | sort | head -n "$n" | xargs cp -t "$dir/$split/$label"
    done
  done
  timeout -k 5 60 "$RNN_DIST" prepare --data "$dir" --out "$out" >"$E2E_TMP/prepare.$n.log" 2>&1
}

cluster_link_down() { ip -n "${CLUSTER_PREFIX}sw" link set "$1" down; }
# Up again, neighbour caches of every host flushed (entries may have gone FAILED while down),
# and wait (up to 10 s) until h1 and the host reach each other again: a TCP connect to a closed
# port answered by a reset ("Connection refused") proves the path, a timeout does not.
cluster_link_up() {
  local host=$1 k peer=h1
  ip -n "${CLUSTER_PREFIX}sw" link set "$host" up
  for ((k = 1; k <= CLUSTER_N; k++)); do ip -n "${CLUSTER_PREFIX}h$k" neigh flush all 2>/dev/null; done
  [[ $host == h1 ]] && peer=h2
  local said
  for _ in $(seq 20); do
    said=$(cluster_exec "$peer" timeout 2 bash -c ": >/dev/tcp/$host/9" 2>&1)
    [[ $said == *refused* ]] && return 0
    sleep 0.5
  done
  echo "cluster: $peer cannot reach $host 10 s after its link came up" >&2
  return 1
}

cluster_host_pids() { ip netns pids "$CLUSTER_PREFIX$1" 2>/dev/null; }

cluster_all_pids() {
  local k
  for ((k = 1; k <= CLUSTER_N; k++)); do cluster_host_pids "h$k"; done
}

cluster_orted_pids() {
  local p
  for p in $(cluster_host_pids "$1"); do
    [[ $(cat "/proc/$p/comm" 2>/dev/null) == orted ]] && echo "$p"
  done
  return 0
}
cluster_orted_pid() { cluster_orted_pids "$1" | head -n 1; }

# Every process of a host or of the cluster, one "host pid stat command" line each.
cluster_describe_pids() {
  local k p
  for ((k = 1; k <= CLUSTER_N; k++)); do
    for p in $(cluster_host_pids "h$k"); do
      echo "h$k $(ps -o pid=,stat=,args= -p "$p" 2>/dev/null | cut -c1-100)"
    done
  done
}

cluster_rate_limit() {
  local rate=$1 k
  for ((k = 1; k <= CLUSTER_N; k++)); do
    if [[ $rate == off ]]; then
      tc -n "${CLUSTER_PREFIX}sw" qdisc del dev "h$k" root 2>/dev/null
    else
      tc -n "${CLUSTER_PREFIX}sw" qdisc replace dev "h$k" root tbf rate "$rate" burst 64kb \
          latency 200ms || return 1
    fi
  done
  return 0
}

# shellcheck disable=SC2034  # CLUSTER_GONE_AFTER is read by the callers
cluster_wait_gone() {  # cluster_wait_gone <limit s>: 0 when no process is left in any host
  declare -g CLUSTER_GONE_AFTER
  local limit=$1 start=$EPOCHREALTIME
  while :; do
    if [[ -z $(cluster_all_pids) ]]; then
      CLUSTER_GONE_AFTER=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
      return 0
    fi
    le "$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')" "$limit" || break
    sleep 0.2
  done
  CLUSTER_GONE_AFTER=never
  return 1
}

cluster_kill_all() {
  local k
  for ((k = 1; k <= CLUSTER_N; k++)); do cluster_kill_ns "$CLUSTER_PREFIX""h$k"; done
}
