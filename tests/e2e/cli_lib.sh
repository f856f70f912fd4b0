# Shared helpers of the tests/e2e/cli_*.sh scripts (sourced, not run).
#
# Each script is called by ctest as `bash cli_X.sh <rnn_dist> <mpirun> <prepared data file> [...]`;
# it prints "ok   ..." or "FAIL ..." per check and exits 1 if any check failed.
set -u
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1

failures=0
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/rnn_dist_cli.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT

pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

# check <description> <command...>: the command must succeed.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

# need_data <file>: the prepared IMDB file made by the imdb_prepared fixture must exist.
need_data() {
  if [[ ! -s $1 ]]; then
    echo "FAIL no prepared IMDB data at $1: run the e2e_prepare_data test (fixture imdb_prepared)," \
         "or make it with launch/get_imdb.sh DIR && rnn_dist prepare --data DIR/aclImdb --out $1"
    exit 1
  fi
}

# show <file> <label>: print a file's content for a failure's diagnosis.
show() {
  echo "---- $2:"
  cat -v "$1" | head -n 40
  echo "----"
}

# count_lines <regex> <file...>: number of lines matching an extended regex.
count_lines() {
  local regex=$1
  shift
  cat "$@" | grep -Ec -- "$regex"
}

# expect_fail <name> <status> <regex> <command...>: the command, run under `timeout 60` with
# stdin from $FAIL_STDIN (default /dev/null), must exit with <status> within $FAIL_LIMIT_MS
# (default 30000: prompt, yet not a timing test on a loaded machine) and print exactly one error line ('rnn_dist: error: ...' or
# 'rnn_dist: rank R (host): ...', on stdout or stderr) that begins a line and matches
# "^rnn_dist: <regex>". Its output stays in $SCRATCH/<name>.out and .err; with FAIL_MERGED=1
# stderr goes to .out too (as on a terminal: a message glued to a progress bar then shows).
expect_fail() {
  local name=$1 want_status=$2 want=$3
  shift 3
  local out="$SCRATCH/$name.out" err="$SCRATCH/$name.err" status start elapsed errors ok=1
  local limit=${FAIL_LIMIT_MS:-30000}
  start=$(date +%s%N)
  if [[ ${FAIL_MERGED:-} == 1 ]]; then
    : >"$err"
    timeout 60 "$@" <"${FAIL_STDIN:-/dev/null}" >"$out" 2>&1
  else
    timeout 60 "$@" <"${FAIL_STDIN:-/dev/null}" >"$out" 2>"$err"
  fi
  status=$?
  elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
  errors=$(cat "$out" "$err" | grep -Eac '^rnn_dist: (error: |rank [0-9]+ \()')
  if ((status == 124)); then
    echo "FAIL $name: still running after 60 s"; ok=0
  elif [[ $status != "$want_status" ]]; then
    echo "FAIL $name: exit status $status, expected $want_status"; ok=0
  fi
  if ((elapsed >= limit)); then echo "FAIL $name: took ${elapsed} ms (limit $limit ms)"; ok=0; fi
  if [[ $errors != 1 ]]; then echo "FAIL $name: $errors error lines, expected 1"; ok=0; fi
  if ! cat "$out" "$err" | grep -Eaq -- "^rnn_dist: $want"; then
    echo "FAIL $name: no line matches /^rnn_dist: $want/"; ok=0
  fi
  if ((ok)); then
    pass "$name: status $status in ${elapsed} ms: $(cat "$out" "$err" | grep -Ea -m1 '^rnn_dist: (error: |rank [0-9]+ \()' | cut -c1-240)"
  else
    failures=$((failures + 1))
    if [[ -s $err ]]; then show "$err" "stderr of $name"; else show "$out" "output of $name"; fi
  fi
}

finish() {
  if ((failures)); then
    echo "$failures check(s) failed"
    exit 1
  fi
  echo "all checks passed"
  exit 0
}

# The small run every training test uses: a few seconds per epoch on one core.
SMALL_RUN=(--maxlen 50 --batch-size 64 --validation-split 0.9 --threads 1 --no-test)
