#!/usr/bin/env bash
# cluster_faults: "no hang, ever" across hosts. Every fault ends the whole job, on every host, in
# bounded time, with one line naming the rank and host.
#
# Usage: cluster_faults.sh <rnn_dist> <compare_checkpoints> <prepared data file>
#        CLUSTER_FAULTS_ONLY=<regex> selects cases by name; CLUSTER_FAULTS_SEED seeds the random
#        moment of link_random (printed).
#
# 3 hosts x 1 rank (rank R runs on h(R+1)), --collective-timeout 5 (DEADLINE), a small prepared
# set (600 training reviews of aclImdb: 480 train / 120 validation, --batch-size 32 = 15 steps an
# epoch, each epoch ends with a validation pass in 16-example batches, --checkpoint-every 5),
# --epochs 20 (about 8 s): long enough for every fault, short enough that a fault that never
# fires (a point the binary does not know) fails the case fast with status 0. Cases:
#   stop_rR_<point>   RNN_DIST_FAULT=stop:R:3@<point>: rank R SIGSTOPs itself (a hung rank) at
#                     point step, allreduce, epoch-end, validation (R = 1 on h2, R = 0 on h1) and
#                     checkpoint (R = 0, the writer)
#   kill_rR_<point>   RNN_DIST_FAULT=kill:R:3@<point>: the same points, SIGKILL (= kill -9)
#   link_steps        h2's link goes down (cluster_link_down) once "Epoch 3/" is printed
#   link_random       h2's link goes down at a random moment 0-3 s after training started
#   orted_h3          kill -9 of the orted of h3 once "Epoch 3/" is printed
# Each fault fires within about 1 s of the start of training ("Epoch 1/", steps take ~25 ms and an
# epoch ~0.4 s here). For each case asserts:
#   - the job is gone (mpirun ended AND no process left in any host's namespace) within
#     DEADLINE + 30 s of the fault's reference moment (start of training for RNN_DIST_FAULT
#     cases, the link-down / kill for the others); whatever is still there then is listed and
#     killed so the next case starts clean;
#   - exit status: 75 for the deadline cases (stop_*); for link_* 75, or 137 when mpirun could not
#     finish the abort and the aborting rank's reaper killed it (the job gone in time); non-zero
#     for kill_* and orted_h3 (124, or 137 after the budget, mean our outer timeout: never
#     accepted);
#   - stop_* and link_*: exactly one rnn_dist line naming a rank and its host, the
#     collective-deadline message naming the faulty rank (a rank's later "abort did not finish"
#     line is not counted): `rnn_dist: rank R' (H'): collective ... timed out after 5 s ... R (H) ...`;
#   - kill_* and orted_h3: a killed process cannot speak, so mpirun's own report names it and its
#     host ("process rank R with PID P on node hK exited on signal 9"; for the orted, "on node
#     h3"), and no rank had to wait for its deadline;
#   - for the checkpoint point (rank 0 stopped / killed while writing): every ckpt-*.rnnd left in
#     the folder loads (no torn checkpoint under the final name).
# A summary table (case, seconds to gone, status, message, leftovers) is printed at the end.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/cluster_lib.sh"
RNN_DIST=$1 COMPARE=$2 DATA=$3
cluster_init cluster_faults 3
DEADLINE=5
BUDGET=$((DEADLINE + 30))
# (CLUSTER_FAULTS_BUDGET overrides it, only to measure how long a failing case really takes.)
BUDGET=${CLUSTER_FAULTS_BUDGET:-$BUDGET}
ONLY=${CLUSTER_FAULTS_ONLY:-.}
SEED=${CLUSTER_FAULTS_SEED:-$$}
RANDOM=$SEED

# The small prepared set.
SMALL=$E2E_TMP/small.rnn_dist
cluster_small_dataset 300 "$SMALL"
check $? "small prepared set: $(grep -m1 'train:' "$E2E_TMP/prepare.300.log")"

hf=$(cluster_hostfile 1)
host_of() { echo "h$(($1 + 1))"; }
elapsed_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
SUMMARY=()

# fault_case <name> <kind: env|link_steps|link_random|orted> <want: 75|nonzero> <faulty rank>
#            [RNN_DIST_FAULT]
fault_case() {
  local name=$1 kind=$2 want=$3 rank=$4 fault=${5:-}
  [[ $name =~ $ONLY ]] || return 0
  local out=$E2E_TMP/$name.out err=$E2E_TMP/$name.err host
  host=$(host_of "$rank")
  echo "case $name: ${fault:+RNN_DIST_FAULT=$fault }($kind, rank $rank on $host)"
  CLUSTER_FAULT=$fault CLUSTER_MPIRUN_TIMEOUT=$((BUDGET + 25)) cluster_mpirun_cmd
  "${CLUSTER_MPIRUN[@]}" -np 3 --hostfile "$hf" "$RNN_DIST" --data "$SMALL" --epochs 20 \
      --maxlen 100 --batch-size 32 --eval-batch-size 16 --checkpoint-every 5 --threads 1 \
      --no-test --progress lines --collective-timeout "$DEADLINE" \
      --output-dir "$E2E_TMP/$name" >"$out" 2>"$err" &
  local job=$!

  # The reference moment: start of training, or the injected link / orted fault.
  local ref="" started="" action=""
  local wait_for="Epoch 1/"
  [[ $kind == link_steps || $kind == orted ]] && wait_for="Epoch 3/"
  for _ in $(seq 300); do
    grep -q "^$wait_for" "$out" 2>/dev/null && { started=1; break; }
    kill -0 "$job" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $started ]]; then
    action="training never reached '$wait_for'"
    ref=$EPOCHREALTIME
  else
    case $kind in
      env) ref=$EPOCHREALTIME ;;
      link_steps) cluster_link_down h2; ref=$EPOCHREALTIME; action="link of h2 down at '$wait_for'" ;;
      link_random)
        local ms=$((RANDOM % 3000))
        sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')"
        cluster_link_down h2
        ref=$EPOCHREALTIME
        action="link of h2 down ${ms} ms after 'Epoch 1/' (seed $SEED)"
        ;;
      orted)
        local o
        o=$(cluster_orted_pid h3)
        [[ -n $o ]] && kill -9 "$o"
        ref=$EPOCHREALTIME
        action="kill -9 of h3's orted (pid ${o:-none found}) at '$wait_for'"
        ;;
    esac
  fi
  [[ -n $action ]] && echo "  [$name] $action"

  # Gone = mpirun ended and every host namespace empty; checked until BUDGET after ref.
  local gone="" left=""
  while :; do
    if ! kill -0 "$job" 2>/dev/null && [[ -z $(cluster_all_pids) ]]; then
      gone=$(elapsed_since "$ref")
      break
    fi
    le "$(elapsed_since "$ref")" "$BUDGET" || break
    sleep 0.2
  done
  if [[ -z $gone ]]; then
    left=$(
      kill -0 "$job" 2>/dev/null && echo "mpirun still running"
      cluster_describe_pids
    )
    cluster_kill_all
    kill -KILL "$job" 2>/dev/null
  fi
  wait "$job"
  local status=$?
  [[ $kind == link_* ]] && cluster_link_up h2
  cluster_kill_all

  [[ -n $gone ]]
  check $? "$name: job gone ${gone:-NOT within ${BUDGET}}s after the fault's reference moment (budget ${BUDGET}s)$(
      [[ -n $left ]] && paste -sd';' <<<"$left" | sed 's/^/; left: /' | cut -c1-400)"
  local ok=1
  case $want in
    75) ((status == 75)) && ok=0 ;;
    # A host cut off: the aborting rank's reaper (comm/internal/mpi_check.cc) SIGKILLs an mpirun
    # that cannot finish the abort, so 137 is the launcher's status then, and only then.
    75-or-reaped) ((status == 75)) || [[ $status == 137 && -n $gone ]] && ok=0 ;;
    # 137 is also what mpirun itself returns for a rank killed by signal 9; it is our outer
    # timeout's only when the job was not gone in time.
    nonzero) ((status != 0 && status != 124)) && [[ $status != 137 || -n $gone ]] && ok=0 ;;
  esac
  check $ok "$name: exit status $status (want $want)"
  local lines n msg
  if [[ $want == nonzero ]]; then
    # A process killed outright cannot speak: mpirun's own report names it and its host.
    if [[ $kind == orted ]]; then
      lines=$(cat "$out" "$err" | grep -E "on node $host\b" | head -n 1)
    else
      lines=$(cat "$out" "$err" | grep -E "process rank $rank with PID [0-9]+ on node $host exited on signal 9")
    fi
    msg=$(head -n 1 <<<"$lines" | cut -c1-220)
    [[ -n $lines ]]
    check $? "$name: mpirun's report names rank $rank's host $host: ${msg:-none}"
    ! cat "$out" "$err" | grep -qE '^rnn_dist: .*timed out'
    check $? "$name: no rank waited for its deadline (the launcher ended the job first)"
  else
    lines=$(cat "$out" "$err" | grep -E '^rnn_dist: .*rank [0-9]+ \(h[0-9]+\)' |
        grep -v "abort did not finish")
    n=$(grep -c . <<<"$lines")
    msg=$(head -n 1 <<<"$lines" | cut -c1-220)
    ((n == 1))
    check $? "$name: $n rnn_dist line(s) naming a rank and host (want 1): ${msg:-none}$(
        ((n > 1)) && sed -n '2,3p' <<<"$lines" | cut -c1-160 | sed 's/^/ | /' | paste -sd' ')"
    grep -Eq "^rnn_dist: rank [0-9]+ \(h[0-9]+\): collective .*timed out after $DEADLINE s.*[ (,]$rank \($host\)" <<<"$lines"
    check $? "$name: the deadline message names rank $rank ($host): ${msg:-none}"
  fi
  if [[ $name == *_checkpoint ]]; then
    # Rank 0 was stopped / killed while writing a checkpoint. A stopped rank gets SIGCONT from
    # the abort and may finish the write, so a complete file is allowed; a torn one under the
    # final name is not: every ckpt-*.rnnd present must load (compare_checkpoints exit 0).
    local f bad="" found=""
    for f in "$E2E_TMP/$name"/checkpoints/ckpt-*.rnnd; do
      [[ -e $f ]] || continue
      found+=" ${f##*/}"
      timeout -k 5 60 "$COMPARE" "$f" "$f" >/dev/null 2>&1 || bad+=" ${f##*/}"
    done
    [[ -z $bad ]]
    check $? "$name: every checkpoint left loads (present:${found:- none}; unreadable:${bad:- none}; folder: $(
        find "$E2E_TMP/$name/checkpoints" -mindepth 1 -printf '%f ' 2>/dev/null))"
  fi
  if ((E2E_FAILURES > ${failures_before:-0})); then
    echo "  ---- $name stderr (last 8 lines):"
    tail -n 8 "$err" | cut -c1-200 | sed 's/^/  | /'
  fi
  failures_before=$E2E_FAILURES
  SUMMARY+=("$(printf '%-22s gone %-6s status %-4s left %-3s msg %s' "$name" "${gone:-never}" \
      "$status" "$(grep -c . <<<"$left")" "${msg:-none}")")
}

for kind in stop kill; do
  want=75
  [[ $kind == kill ]] && want=nonzero
  for point in step allreduce epoch-end validation; do
    fault_case "${kind}_r1_$point" env "$want" 1 "$kind:1:3@$point"
    fault_case "${kind}_r0_$point" env "$want" 0 "$kind:0:3@$point"
  done
  fault_case "${kind}_r0_checkpoint" env "$want" 0 "$kind:0:3@checkpoint"
done
fault_case link_steps link_steps 75-or-reaped 1
fault_case link_random link_random 75-or-reaped 1
fault_case orted_h3 orted nonzero 2

echo "summary (seconds from the fault's reference moment until the job was gone):"
printf '  %s\n' "${SUMMARY[@]}"
e2e_finish
