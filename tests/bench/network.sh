#!/usr/bin/env bash
# Network benchmark on simulated hosts (tests/cluster/cluster_lib.sh: network namespaces, veth
# to a bridge, TCP between them): throughput and all-reduce share of the default LSTM at 2 and 3
# ranks (one per host), with the bridge rate-limited (tbf) to each of RATES, for each all-reduce
# algorithm: `ring` (comm/'s default: reduce-scatter + all-gather over point-to-point messages)
# and `mpi-blocking` (Open MPI's own MPI_Allreduce, RNN_DIST_ALLREDUCE=mpi-blocking). Bytes sent
# per step are read from every host's eth0 counters, so they are what really crossed the link.
# A benchmark, not a test: it prints figures (and RESULTS_TSV if set), never fails on them.
#
#   tests/bench/network.sh BUILD_DIR [PREPARED_FILE]
#   RATES="10gbit 1gbit 100mbit" RANKS="2 3" ALGOS="ring mpi-blocking" STEPS=60 REPEAT=3
#
# Repeats are interleaved (every algorithm once, then again), medians reported. Needs root. On a
# 2-core machine 3 ranks oversubscribe the cores: compute time then grows, and only the bytes and
# the all-reduce time are meaningful at 3 ranks.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: network.sh BUILD_DIR [PREPARED_FILE]}" && pwd)
data=${2:-$build/e2e-data/imdb.rnn_dist}
# shellcheck source=../cluster/cluster_lib.sh
source "$here/../cluster/cluster_lib.sh"
RATES=${RATES:-"10gbit 1gbit 100mbit"}
RANKS=${RANKS:-"2 3"}
ALGOS=${ALGOS:-"ring mpi-blocking"}
STEPS=${STEPS:-60}
REPEAT=${REPEAT:-3}
BATCH=${BATCH:-128}
cluster_init bench_network 3
CLUSTER_MPIRUN_TIMEOUT=600 cluster_mpirun_cmd
hostfile=$(cluster_hostfile 1)

tx_bytes() { cluster_exec "$1" cat /sys/class/net/eth0/statistics/tx_bytes; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# run <np> <algo> <tag>: one training run; appends "ex/s allreduce% wait% bytes_h1 bytes_h2 bytes_h3"
# (bytes per step) to $E2E_TMP/<tag>.
run() {
  local np=$1 algo=$2 tag=$3 k before=() after=() name="r$RANDOM"
  for ((k = 1; k <= 3; k++)); do before[k]=$(tx_bytes "h$k"); done
  "${CLUSTER_MPIRUN[@]}" -x RNN_DIST_ALLREDUCE="$algo" -np "$np" --hostfile "$hostfile" \
      "$build/rnn_dist" --data "$data" --max-steps "$STEPS" --batch-size "$BATCH" \
      --validation-split 0 --no-test --threads 1 --profile --progress lines \
      --output-dir "$E2E_TMP/$name" >"$E2E_TMP/$name.out" 2>"$E2E_TMP/$name.err" ||
    { echo "run failed: np $np $algo"; tail -5 "$E2E_TMP/$name.err"; return 1; }
  for ((k = 1; k <= 3; k++)); do after[k]=$(tx_bytes "h$k"); done
  local eps share wait
  eps=$(sed -nE "s|^$STEPS/[0-9]+ - .* - ([0-9.]+) examples/s.*|\1|p" "$E2E_TMP/$name.out" | tail -n 1)
  share=$(sed -nE 's/.*all-reduce [0-9.]+s \/ [0-9.]+s \(([0-9.]+)% of the step\).*/\1/p' "$E2E_TMP/$name.out" | tail -n 1)
  wait=$(sed -nE 's/.*waiting for slower ranks [0-9.]+s \/ [0-9.]+s \(([0-9.]+)%\).*/\1/p' "$E2E_TMP/$name.out" | tail -n 1)
  echo "$eps $share $wait $(((after[1] - before[1]) / STEPS)) $(((after[2] - before[2]) / STEPS)) $(((after[3] - before[3]) / STEPS))" >>"$E2E_TMP/$tag"
  cluster_kill_all
}

echo "network benchmark: default LSTM, batch $BATCH, $STEPS steps, $REPEAT interleaved repeats; machine: $(nproc) cores, $(uname -r)"
cluster_rate_limit off
for ((i = 0; i < REPEAT; i++)); do run 1 ring one; done
one=$(awk '{ print $1 }' "$E2E_TMP/one" | median)
echo "reference: 1 rank on h1, no network: $one examples/s (median)"
printf '%-8s %-5s %-13s %10s %7s %12s %12s %12s %12s\n' rate ranks algorithm "examples/s" "vs 1" \
    "all-reduce%" "waiting%" "h1 kB/step" "h2,h3 kB/step"
[[ -n ${RESULTS_TSV:-} ]] && printf 'rate\tranks\talgorithm\texamples_per_s\tallreduce_pct\twait_pct\th1_bytes\th2_bytes\th3_bytes\n' >"$RESULTS_TSV"
for rate in $RATES; do
  cluster_rate_limit "$rate" || { echo "tc tbf $rate failed"; exit 1; }
  for np in $RANKS; do
    for ((i = 0; i < REPEAT; i++)); do
      for algo in $ALGOS; do run "$np" "$algo" "$rate.$np.$algo"; done
    done
    for algo in $ALGOS; do
      f="$E2E_TMP/$rate.$np.$algo"
      [[ -s $f ]] || continue
      col() { awk -v c="$1" '{ print $c }' "$f" | median; }
      eps=$(col 1) share=$(col 2) wait=$(col 3) b1=$(col 4) b2=$(col 5) b3=$(col 6)
      printf '%-8s %-5s %-13s %10.0f %7.2f %12s %12s %12s %12s\n' "$rate" "$np" "$algo" "$eps" \
          "$(awk -v a="$eps" -v b="$one" 'BEGIN { print a / b }')" "$share" "$wait" \
          "$((b1 / 1000))" "$((b2 / 1000)),$((b3 / 1000))"
      [[ -n ${RESULTS_TSV:-} ]] && printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rate" "$np" "$algo" \
          "$eps" "$share" "$wait" "$b1" "$b2" "$b3" >>"$RESULTS_TSV"
    done
  done
done
cluster_rate_limit off
