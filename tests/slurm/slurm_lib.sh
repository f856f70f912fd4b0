# shellcheck shell=bash
# Helpers of the Slurm tests (source it). The cluster comes from slurm_cluster.sh start (the ctest
# fixture `slurm`); every test submits launch/slurm.sbatch to it.
#
#   sl_init NAME SRC RNN_DIST COMPARE DATA   scratch folder $T (submit folder, outputs), SLURM_CONF,
#                                            RNN_DIST_BIN/ROOT for the batch script; on exit every
#                                            job of this test is cancelled, its processes killed,
#                                            $T removed. Exits 77 (skip) without a running cluster.
#   sl_submit NAME [sbatch opts] -- [rnn_dist opts]   submits; sets JOB; log $T/NAME.log
#   sl_wait JOB SECONDS [hold-hook]          polls scontrol until the job is final; records the
#                                            state changes in STATES, releases a requeued job held
#                                            for BeginTime at once (calls hold-hook JOB first);
#                                            sets STATE, EXIT_CODE, RESTARTS, WAITED (s)
#   sl_wait_file FILE SECONDS                until FILE exists
#   sl_field JOB FIELD                       one field of `scontrol -o show job`
#   check / sl_done                          assertions and the summary
set -u -o pipefail

sl_init() {
  SL_NAME=$1 SRC=$2 RNN_DIST=$3 COMPARE=$4 DATA=$5
  SL_STATE=${RNN_DIST_SLURM_STATE:-/tmp/rnn_dist_slurm}
  export SLURM_CONF=$SL_STATE/slurm.conf
  export PATH=$PATH:/usr/sbin
  FAILED=0 CHECKS=0 SL_JOBS=()
  if [[ ! -s $SLURM_CONF ]] || ! timeout 10 sinfo -h >/dev/null 2>&1; then
    echo "$SL_NAME: no test Slurm running at $SLURM_CONF (fixture slurm_cluster_start): skipped"
    exit 77
  fi
  [[ -s $DATA ]] || { echo "$SL_NAME: no prepared data at $DATA"; exit 1; }
  # Inside the cluster's state folder: slurm_cluster.sh stop removes it even if this shell is
  # killed outright.
  mkdir -p "$SL_STATE/work"
  T=$(mktemp -d "$SL_STATE/work/${SL_NAME}.XXXXXX")
  chmod 0755 "$T"
  trap sl_cleanup EXIT
  trap 'exit 130' INT TERM
  export RNN_DIST_BIN=$RNN_DIST RNN_DIST_ROOT=$SRC
  # Two Slurm nodes on one machine: binding would put both nodes' ranks on the same core.
  export RNN_DIST_BIND=none
  unset RNN_DIST_LAUNCH
  SBATCH=$SRC/launch/slurm.sbatch
  SL_T0=$SECONDS
  echo "$SL_NAME: scratch folder $T, SLURM_CONF=$SLURM_CONF"
}

sl_cleanup() {
  local j pids
  for j in "${SL_JOBS[@]}"; do
    timeout 10 scancel --quiet --full --signal=KILL "$j" 2>/dev/null
    timeout 10 scancel --quiet "$j" 2>/dev/null
  done
  # Processes of this test's runs (every --output-dir is inside $T); none should be left.
  sleep 0.5
  pids=$(pgrep -f -- "$T" | grep -vx -e "$$" || true)
  if [[ -n $pids ]]; then
    echo "$SL_NAME: killing leftover processes $(echo $pids)"
    # shellcheck disable=SC2086
    kill -CONT $pids 2>/dev/null; kill -KILL $pids 2>/dev/null
  fi
  if [[ -n ${SL_KEEP:-} ]]; then echo "$SL_NAME: kept $T"; else rm -rf "$T"; fi
}

check() {  # check <status 0 = ok> <description>
  local ok=$1
  shift
  CHECKS=$((CHECKS + 1))
  if ((ok == 0)); then echo "  ok    $*"; else echo "  FAIL  $*"; FAILED=$((FAILED + 1)); fi
}

sl_show() {  # the tail of a job's log
  echo "  ---- $1.log (last ${2:-25} lines):"
  tail -n "${2:-25}" "$T/$1.log" | sed 's/^/  | /'
}

# No process of this test's runs is left once its jobs have ended (mpirun, ranks, orted, srun).
sl_no_leftovers() {
  local i pids
  for i in $(seq 20); do
    pids=$(pgrep -f -- "$T" | grep -vx -e "$$" || true)
    [[ -z $pids ]] && break
    sleep 0.5
  done
  check $([[ -z $pids ]]; echo $?) "no process of this test's jobs left${pids:+: $(ps -o pid=,args= -p "$(echo $pids | tr ' ' ,)" | cut -c1-120 | tr '\n' ';')}"
}

sl_done() {
  sl_no_leftovers
  echo "$SL_NAME: $((CHECKS - FAILED))/$CHECKS checks passed in $((SECONDS - SL_T0)) s"
  ((FAILED == 0))
}

sl_submit() {  # sl_submit NAME [sbatch options] -- [rnn_dist options]
  local name=$1 sb=()
  shift
  while (($#)) && [[ $1 != -- ]]; do sb+=("$1"); shift; done
  (($#)) && shift
  JOB=$(cd "$T" && timeout 20 sbatch --parsable --job-name="rnn_dist_$SL_NAME" --output="$T/$name.log" \
        "${sb[@]}" "$SBATCH" "$@")
  local rc=$?
  JOB=${JOB%%;*}
  if ((rc != 0)) || [[ -z $JOB ]]; then
    check 1 "$name: sbatch ${sb[*]} failed (status $rc)"
    JOB=
    return 1
  fi
  SL_JOBS+=("$JOB")
  echo "  [$name] job $JOB: sbatch ${sb[*]} slurm.sbatch $*"
}

sl_field() {  # sl_field JOB FIELD
  timeout 10 scontrol -o show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1
}

sl_wait() {  # sl_wait JOB SECONDS [hold-hook]
  local job=$1 limit=$2 hook=${3:-} start=$SECONDS last="" now reason held=
  STATES=""
  while :; do
    now=$(sl_field "$job" JobState)
    reason=$(sl_field "$job" Reason)
    local entry="$now"
    [[ $now == PENDING && $reason != None ]] && entry="$now($reason)"
    if [[ $entry != "$last" ]]; then
      STATES+="${STATES:+ -> }$entry@$((SECONDS - start))s"
      last=$entry
    fi
    case $now in
      COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE) break ;;
    esac
    if [[ $now == PENDING && $reason == BeginTime ]]; then
      # A requeued job is held about two minutes: release it (the test's only shortcut), but
      # not within 2-3 s of the requeue: slurmd refuses a job whose new credential dates from the
      # same second as the old one's revocation ("Job credential revoked", job FAILED).
      held=${held:-$SECONDS}
      if ((SECONDS - held >= 3)); then
        [[ -n $hook ]] && "$hook" "$job"
        timeout 10 scontrol update JobId="$job" StartTime=now >/dev/null 2>&1
        held=
      fi
    else
      held=
    fi
    if ((SECONDS - start >= limit)); then
      STATES+=" (still $now after ${limit}s)"
      break
    fi
    sleep 0.5
  done
  STATE=$now
  EXIT_CODE=$(sl_field "$job" ExitCode)
  RESTARTS=$(sl_field "$job" Restarts)
  WAITED=$((SECONDS - start))
  echo "  job $job: $STATES; final $STATE, ExitCode $EXIT_CODE, Restarts $RESTARTS, ${WAITED}s"
}

sl_wait_file() {  # sl_wait_file FILE SECONDS
  local i
  for i in $(seq $(($2 * 5))); do
    [[ -e $1 ]] && return 0
    sleep 0.2
  done
  return 1
}

sl_expect_done() {  # sl_expect_done NAME [restarts]: COMPLETED with 0:0 (and that restart count)
  local name=$1 want_restarts=${2:-}
  check $([[ $STATE == COMPLETED && $EXIT_CODE == 0:0 ]]; echo $?) \
    "$name: job state $STATE, exit code $EXIT_CODE (want COMPLETED, 0:0)"
  if [[ -n $want_restarts ]]; then
    check $([[ $RESTARTS == "$want_restarts" ]]; echo $?) "$name: Restarts=$RESTARTS (want $want_restarts)"
  fi
  [[ $STATE == COMPLETED ]] || sl_show "$name"
}

sl_expect_log() {  # sl_expect_log NAME REGEX [description]
  grep -Eq -- "$2" "$T/$1.log"
  check $? "$1: log has /$2/${3:+ ($3)}"
}

# The final checkpoints of two runs are equal (tolerance 0) by compare_checkpoints.
sl_same_checkpoint() {  # sl_same_checkpoint WHAT A B
  local out
  local status
  out=$("$COMPARE" "$2" "$3" --optimizer 2>&1)
  status=$?
  check $status "$1: $(tail -n1 <<<"$out")"
  ((status == 0)) || sed 's/^/  | /' <<<"$out"
}
