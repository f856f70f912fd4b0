#!/usr/bin/env bash
# get_imdb_test.sh GET_IMDB SHARED_DATA: checks launch/get_imdb.sh against the real archive:
# extraction into a temp DEST, refusal of a corrupt archive (nothing left behind), and a second
# run that uses the extracted copy without any archive or network.
set -euo pipefail
script="$1"
archive="$2/aclImdb_labeled.tar.gz"
if [[ ! -f "$archive" ]]; then
  echo "SKIP: no IMDB archive at $archive"
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. From the archive into a fresh DEST.
IMDB_ARCHIVE="$archive" bash "$script" "$work/dest" || fail "extraction from $archive failed"
for split in train test; do
  for label in pos neg; do
    n="$(find "$work/dest/aclImdb/$split/$label" -name '*.txt' | wc -l)"
    [[ "$n" == 12500 ]] || fail "$split/$label has $n reviews, want 12500"
  done
done
[[ -z "$(find "$work/dest" -maxdepth 1 -name '.aclImdb.tmp.*')" ]] || fail "temp folder left behind"

# 2. A second run uses the copy and touches neither archive nor network.
out="$(IMDB_ARCHIVE="$work/nonexistent.tar.gz" bash "$script" "$work/dest")" ||
  fail "second run failed"
[[ "$out" == *"nothing to do"* ]] || fail "second run did something: $out"

# 3. A corrupt (truncated) archive is refused and leaves no DEST/aclImdb.
head -c 3000000 "$archive" > "$work/corrupt.tar.gz"
if err="$(IMDB_ARCHIVE="$work/corrupt.tar.gz" bash "$script" "$work/bad" 2>&1)"; then
  fail "corrupt archive accepted"
fi
[[ "$(printf '%s\n' "$err" | wc -l)" == 1 ]] || fail "error is not one line: $err"
[[ "$err" == *"$work/corrupt.tar.gz"* ]] || fail "error does not name the archive: $err"
[[ ! -e "$work/bad/aclImdb" ]] || fail "corrupt archive left $work/bad/aclImdb"
[[ -z "$(find "$work/bad" -maxdepth 1 -name '.aclImdb.tmp.*')" ]] || fail "temp folder left behind"

# 4. An archive that is not the IMDB data is refused too.
mkdir -p "$work/other/aclImdb/train" && echo x > "$work/other/aclImdb/README"
tar -czf "$work/other.tar.gz" -C "$work/other" aclImdb
if IMDB_ARCHIVE="$work/other.tar.gz" bash "$script" "$work/bad2" 2> /dev/null; then
  fail "archive without reviews accepted"
fi
[[ ! -e "$work/bad2/aclImdb" ]] || fail "bad archive left $work/bad2/aclImdb"
echo "get_imdb.sh: all checks passed"
