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
