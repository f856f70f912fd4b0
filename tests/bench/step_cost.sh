#!/usr/bin/env bash
# step_cost: training throughput of this build against a reference build of rnn_dist (e.g. the
# code before a change, built in a git worktree), in interleaved runs on the real prepared data.
#
# Usage: tests/bench/step_cost.sh NEW_RNN_DIST REF_RNN_DIST PREPARED_DATA
#   REPEAT=3     runs of each configuration and build, interleaved (new, ref, new, ref, ...)
#   STEPS=150    --max-steps of each run (--validation-split 0: every step trains)
#   CONFIGS="1:1 2:1 1:2"   ranks:threads; "pair" = two independent 1-rank, 1-thread runs at
#                           once, one per core (taskset): what the machine gives two processes
#                           that never talk, the ceiling for 2:1 (reported: their sum)
#   EXTRA="..."  options added to every run of both builds
#
# Prints, per configuration, the median examples/s of each build and their ratio (new / ref), and
# the median share of the step spent in the all-reduce (the time split line, mean over ranks) for
# both. Figures are ratios measured in the same run: machines differ by 1.5x and more.
# Not a ctest test (timing), a benchmark: run it on a quiet machine.
set -u -o pipefail
NEW=$1 REF=$2 DATA=$3
REPEAT=${REPEAT:-3} STEPS=${STEPS:-150} CONFIGS=${CONFIGS:-"1:1 2:1 1:2"} EXTRA=${EXTRA:-}
source "$(dirname "$0")/../../launch/mpi_env.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rnn_dist_step_cost.XXXXXX")
trap 'pkill -f -- "$TMP" 2>/dev/null; rm -rf "$TMP"' EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# eps_of <log>: the examples/s of the run's last progress line.
eps_of() { sed -nE 's|^[0-9]+/[0-9]+ - .* - ([0-9]+) examples/s - .*|\1|p' "$1" | tail -n 1; }

# run_pair <binary> <tag>: two 1-rank runs at once on cores 0 and 1; appends "sum-of-examples/s 0".
run_pair() {
  local bin=$1 tag=$2 k pids=() eps=0
  for k in 0 1; do
    timeout 600 taskset -c "$k" mpirun -np 1 --bind-to none "$bin" --data "$DATA" --max-steps "$STEPS" \
        --validation-split 0 --threads 1 --no-test --progress lines \
        --output-dir "$TMP/out.$tag.$k" $EXTRA >"$TMP/$tag.pair$k.log" 2>&1 &
    pids+=($!)
  done
  for k in 0 1; do
    if ! wait "${pids[$k]}"; then
      echo "step_cost: $tag (pair, core $k) failed:" >&2
      tail -n 5 "$TMP/$tag.pair$k.log" >&2
      exit 1
    fi
    eps=$((eps + $(eps_of "$TMP/$tag.pair$k.log")))
  done
  echo "$eps 0" >>"$TMP/$tag"
  rm -rf "$TMP/out.$tag".*
}

# run <binary> <ranks> <threads> <tag>: appends "examples/s all-reduce%" to $TMP/<tag>.
run() {
  local bin=$1 np=$2 threads=$3 tag=$4 out bind=()
  out=$TMP/$tag.$RANDOM.log
  # Open MPI binds each rank to one core when np <= 2: threads need the rank's cores unbound.
  ((threads > 1)) && bind=(--bind-to none)
  # shellcheck disable=SC2086
  if ! timeout 600 mpirun -np "$np" --oversubscribe "${bind[@]}" "$bin" --data "$DATA" --max-steps "$STEPS" \
      --validation-split 0 --threads "$threads" --no-test --progress lines \
      --output-dir "$TMP/out.$tag" $EXTRA >"$out" 2>&1; then
    echo "step_cost: $tag failed:" >&2
    tail -n 5 "$out" >&2
    exit 1
  fi
  local eps share
  eps=$(eps_of "$out")
  share=$(sed -nE 's/.*all-reduce[^(]*\(([0-9.]+)% of the step\).*/\1/p' "$out" | tail -n 1)
  echo "${eps:-0} ${share:-0}" >>"$TMP/$tag"
  rm -rf "$TMP/out.$tag"
}

echo "step_cost: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "step_cost: new $NEW"
echo "step_cost: ref $REF"
echo "step_cost: --max-steps $STEPS --validation-split 0 $EXTRA, $REPEAT interleaved runs each"
for ((i = 0; i < REPEAT; ++i)); do
  for cfg in $CONFIGS; do
    if [[ $cfg == pair ]]; then
      run_pair "$NEW" "new_$cfg"
      run_pair "$REF" "ref_$cfg"
      continue
    fi
    np=${cfg%:*} threads=${cfg#*:}
    run "$NEW" "$np" "$threads" "new_$cfg"
    run "$REF" "$np" "$threads" "ref_$cfg"
  done
done
printf '%-14s %12s %12s %10s %14s %14s\n' "ranks:threads" "new ex/s" "ref ex/s" "new/ref" \
    "new all-red %" "ref all-red %"
for cfg in $CONFIGS; do
  n=$(cut -d' ' -f1 "$TMP/new_$cfg" | median) r=$(cut -d' ' -f1 "$TMP/ref_$cfg" | median)
  ns=$(cut -d' ' -f2 "$TMP/new_$cfg" | median) rs=$(cut -d' ' -f2 "$TMP/ref_$cfg" | median)
  printf '%-14s %12.0f %12.0f %10.3f %14.1f %14.1f\n' "$cfg" "$n" "$r" \
      "$(awk -v a="$n" -v b="$r" 'BEGIN { print (b > 0) ? a / b : 0 }')" "$ns" "$rs"
  echo "  runs new: $(cut -d' ' -f1 "$TMP/new_$cfg" | tr '\n' ' ')  ref: $(cut -d' ' -f1 "$TMP/ref_$cfg" | tr '\n' ' ')"
done
