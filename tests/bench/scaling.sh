#!/usr/bin/env bash
# scaling.sh: how training throughput scales with ranks on this machine, and what share of a step
# the gradient all-reduce takes. Not a test: prints a table.
#
# Usage: tests/bench/scaling.sh [BUILD_DIR] [DATA]
#   BUILD_DIR  holds rnn_dist (default: build)
#   DATA       prepared file or aclImdb folder (default: BUILD_DIR/e2e-data/imdb.rnn_dist, the
#              e2e fixture's file)
# Environment:
#   WAIT_QUIET=S   wait up to S seconds (default 600, over the whole script) for the machine to be
#                  quiet: 1-minute load average < MAX_LOAD (default 0.5) before the first run,
#                  fewer than MAX_LOAD cores busy (2 s sample) before each run; then run anyway
#                  and say so (the table shows the busy cores measured before each run)
#   REPEAT=N       runs per configuration (default 2); the best throughput is reported
#   RANKS="1 2 4 8"
#
# The run: the default model (Embedding(10000,32) -> LSTM(32) -> Dense(1)), --maxlen 500,
# --batch-size 128 (global), --threads 1 per rank, --max-steps 60, --no-test, --progress lines,
# --validation-split 0 (no 5,000-review evaluation at the end: it is not part of the step time
# and the training throughput does not depend on it).
# Figures: examples/s of the partial-epoch line (training time only), and the "time split" line:
# mean compute and all-reduce seconds over ranks, and all-reduce as a share of the step.
# P > cores needs --oversubscribe: those throughputs mean nothing (DESIGN.md), only their
# all-reduce share is reported, and it mostly measures waiting for descheduled ranks.
set -u -o pipefail
BUILD=${1:-build}
DATA=${2:-$BUILD/e2e-data/imdb.rnn_dist}
RNN_DIST=$BUILD/rnn_dist
WAIT_QUIET=${WAIT_QUIET:-600}
MAX_LOAD=${MAX_LOAD:-0.5}
REPEAT=${REPEAT:-2}
RANKS=${RANKS:-"1 2 4 8"}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

[[ -x $RNN_DIST ]] || { echo "scaling.sh: no $RNN_DIST (build the rnn_dist target)" >&2; exit 2; }
[[ -e $DATA ]] || { echo "scaling.sh: no data at $DATA (run ctest -R e2e_prepare_data)" >&2; exit 2; }
CORES=$(nproc)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rnn_dist_scaling.XXXXXX")
cleanup() {
  local pids
  pids=$(pgrep -f -- "$TMP" | grep -vx "$$" || true)
  # shellcheck disable=SC2086
  [[ -n $pids ]] && kill -CONT $pids 2>/dev/null && kill -KILL $pids 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

load1() { cut -d' ' -f1 /proc/loadavg; }

# Cores kept busy by anything (between our runs: by others) over 2 s, from /proc/stat. The
# 1-minute load average lags a minute behind, so after one of our own runs it says "busy" for a
# while; it is checked once, before the first run.
busy_cores() {
  local a b
  read -ra a </proc/stat; sleep 2; read -ra b </proc/stat
  awk -v u="$(( (b[1] + b[2] + b[3] + b[6] + b[7]) - (a[1] + a[2] + a[3] + a[6] + a[7]) ))" \
      -v i="$(( (b[4] + b[5]) - (a[4] + a[5]) ))" -v n="$CORES" \
      'BEGIN { t = u + i; printf "%.2f", (t > 0 ? n * u / t : 0) }'
}

gave_up=""
# wait_quiet <what>: until <what> (load1 or busy_cores) < MAX_LOAD, at most WAIT_QUIET seconds
# over the whole script (a busy machine is waited for once, then the figures say so).
wait_quiet() {
  local waited=0 v
  while v=$($1); awk -v l="$v" -v m="$MAX_LOAD" 'BEGIN { exit !(l >= m) }'; do
    if [[ -n $gave_up ]] || ((waited >= WAIT_QUIET)); then
      [[ -z $gave_up ]] && echo "(machine still busy: $1 $v >= $MAX_LOAD after ${waited}s; running anyway)" >&2
      gave_up=1
      return 1
    fi
    sleep 10
    waited=$((waited + 12))
  done
  return 0
}

# run <np>: one run; prints "examples/s compute_mean allreduce_mean share load_before load_after"
run() {
  local np=$1 out="$TMP/np$1.out" over=()
  ((np > CORES)) && over=(--oversubscribe)
  local before
  before=$(busy_cores)
  timeout 600 mpirun -np "$np" "${over[@]}" "$RNN_DIST" --data "$DATA" --maxlen 500 \
      --batch-size 128 --threads 1 --max-steps 60 --no-test --progress lines \
      --validation-split 0 --output-dir "$TMP/run" >"$out" 2>"$TMP/np$np.err" || {
    echo "scaling.sh: -np $np failed:" >&2; tail -n 5 "$TMP/np$np.err" >&2; return 1; }
  local rate split
  rate=$(sed -nE 's|^[0-9]+/[0-9]+ - .* - ([0-9.]+) examples/s - loss.*|\1|p' "$out" | tail -n 1)
  # "  time split (mean / slowest rank): compute A / B, all-reduce incl. waiting C / D (E% of the step), ..."
  split=$(sed -nE 's|.*compute ([0-9.]+)s / [0-9.]+s, all-reduce incl. waiting ([0-9.]+)s / [0-9.]+s \(([0-9.]+)%.*|\1 \2 \3|p' \
      "$out" | tail -n 1)
  echo "${rate:-?} ${split:-? ? ?} $before"
}

echo "rnn_dist scaling: LSTM(32), maxlen 500, global batch 128, 60 steps, --threads 1 per rank,"
echo "$CORES cores; $REPEAT run(s) per P, best throughput kept. $(date -u +%FT%TZ), load $(load1)"
wait_quiet load1
printf '\n| P | examples/s | speed-up vs P=1 | compute s (mean/rank) | all-reduce s (mean/rank) | all-reduce share | cores busy before |\n'
printf '|---|-----------:|----------------:|----------------------:|-------------------------:|-----------------:|------------------:|\n'
base=""
for np in $RANKS; do
  best=""
  for ((i = 0; i < REPEAT; ++i)); do
    wait_quiet busy_cores
    line=$(run "$np") || continue
    read -r rate comp ar share lb <<<"$line"
    if [[ -z $best ]] || awk -v a="$rate" -v b="${best%% *}" 'BEGIN { exit !(a > b) }'; then
      best="$rate $comp $ar $share $lb"
    fi
  done
  [[ -z $best ]] && { printf '| %d | failed | | | | | |\n' "$np"; continue; }
  read -r rate comp ar share lb <<<"$best"
  if ((np > CORES)); then
    printf '| %d (oversubscribed) | (%s) | - | %s | %s | %s%% | %s |\n' "$np" "$rate" "$comp" "$ar" "$share" "$lb"
  else
    [[ $np == 1 ]] && base=$rate
    speedup=$([[ -n $base ]] && awk -v a="$rate" -v b="$base" 'BEGIN { printf "%.2fx", a / b }')
    printf '| %d | %s | %s | %s | %s | %s%% | %s |\n' "$np" "$rate" "${speedup:--}" "$comp" "$ar" "$share" "$lb"
  fi
done
echo
echo "targets: P=2 >= 1.8x P=1; all-reduce < 5% of a step at P=2"
