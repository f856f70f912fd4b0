#!/usr/bin/env bash
# run_fuzz.sh BUILD_DIR [SECONDS]: generates the seed corpus (fuzz_make_seeds) and runs each
# libFuzzer checkpoint target for SECONDS (default 180) on one core. The growing corpus and any
# crash inputs stay in BUILD_DIR/tests/fuzz/{corpus-*,crash-*}. Build first with RNN_DIST_FUZZ=ON
# (see CMakeLists.txt here). Exit status 1 if a target found a crash.
set -euo pipefail
build=$(cd "${1:?usage: run_fuzz.sh BUILD_DIR [SECONDS]}" && pwd)
seconds=${2:-180}
here="$build/tests/fuzz"
"$here/fuzz_make_seeds" "$here/seeds"
status=0
for kind in file payload; do
  mkdir -p "$here/corpus-$kind" "$here/crash-$kind"
  echo "== fuzz_checkpoint_$kind for ${seconds}s"
  "$here/fuzz_checkpoint_$kind" "$here/corpus-$kind" "$here/seeds/$kind" \
      -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$here/crash-$kind/" 2>&1 | tee "$here/fuzz-$kind.log" | grep -E '^(#[0-9]+ +(INITED|DONE|pulse))|^stat::|ERROR|SUMMARY|Test unit written' || true
  [[ -z $(ls -A "$here/crash-$kind") ]] || { echo "fuzz_checkpoint_$kind: crash inputs in $here/crash-$kind"; status=1; }
done
exit $status
