#!/bin/sh
# cluster_rsh.sh: the "remote shell" of the simulated cluster (tests/cluster/cluster_lib.sh).
#
#   cluster_rsh.sh [ssh options] HOST COMMAND...     as ssh: used by mpirun (plm_rsh_agent)
#   cluster_rsh.sh --inner HOST --sh COMMAND_STRING  (internal) inside HOST: set up, sh -c it
#   cluster_rsh.sh --inner HOST --exec PROGRAM ARGS  (internal) inside HOST: set up, exec it
#
# ssh mode skips ssh-style options (-x, -T, -o OPT, -p PORT, ...), takes the host name and joins the
# remaining arguments into one command string with spaces (as ssh does), then runs that string in
# HOST's network namespace, under its own UTS namespace (hostname HOST) and its own private mount
# namespace:
#   nsenter --mount=<cluster's mount ns> ip netns exec <prefix>HOST unshare --uts --mount \
#       --propagation private cluster_rsh.sh --inner ...
# The inner step sets the hostname, applies HOST's private mounts and execs the command.
#
# Configuration: $CLUSTER_DIR (set by cluster_lib.sh, inherited through mpirun and orted) holds
#   prefix            the namespace-name prefix of this cluster (namespace = prefix + host)
#   mounts/HOST       private mounts of HOST, one a line, applied in order before the exec:
#                       tmpfs DST        an empty tmpfs over the folder DST
#                       bind SRC DST     SRC bind-mounted over DST (file or folder)
# The mounts live only in the private mount namespace of that one process tree, never in the root
# namespace (cluster_harness checks that).
set -u

die() { echo "cluster_rsh.sh: $*" >&2; exit 255; }

[ -n "${CLUSTER_DIR:-}" ] || die "CLUSTER_DIR is not set"
[ -r "$CLUSTER_DIR/prefix" ] || die "no $CLUSTER_DIR/prefix"
prefix=$(cat "$CLUSTER_DIR/prefix")

if [ "${1:-}" = "--inner" ]; then
  host=$2 mode=$3
  shift 3
  hostname "$host" || die "hostname $host failed"
  mounts="$CLUSTER_DIR/mounts/$host"
  if [ -f "$mounts" ]; then
    while read -r kind a b; do
      case $kind in
        tmpfs) mount -t tmpfs -o size=64m "rdc-$host" "$a" || die "$host: tmpfs over $a failed" ;;
        bind) mount --bind "$a" "$b" || die "$host: bind $a over $b failed" ;;
        '' | '#'*) ;;
        *) die "$host: unknown mount kind '$kind' in $mounts" ;;
      esac
    done <"$mounts"
  fi
  case $mode in
    --sh) exec sh -c "$1" ;;
    --exec) exec "$@" ;;
    *) die "unknown inner mode $mode" ;;
  esac
fi

# ssh mode: skip options. Options of ssh that take an argument: -B -b -c -D -E -e -F -I -i -J -L
# -l -m -O -o -P -p -Q -R -S -W -w (given as "-p 22" or "-p22").
while [ $# -gt 0 ]; do
  case $1 in
    --) shift; break ;;
    -[BbcDEeFIiJLlmOoPpQRSWw]) shift 2 ;;
    -*) shift ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || die "no host name"
host=$1
shift
[ $# -ge 1 ] || die "no command for $host (an interactive login is not supported)"
case $host in
  *@*) host=${host#*@} ;;
esac
[ -e "/run/netns/$prefix$host" ] || die "unknown host '$host' (no namespace $prefix$host)"
cmd=$*
agent=$(readlink -f "$0")
# From the cluster's own mount namespace, not the calling host's (see cluster_lib.sh, mntns).
exec nsenter --mount="$(cat "$CLUSTER_DIR/mntns")" \
    ip netns exec "$prefix$host" unshare --uts --mount --propagation private \
    "$agent" --inner "$host" --sh "$cmd"
