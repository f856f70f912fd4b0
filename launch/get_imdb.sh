#!/usr/bin/env bash
# get_imdb.sh [DEST]: leave an extracted IMDB review set at DEST/aclImdb (default ./data).
#
# Sources, first match wins:
#   1. DEST/aclImdb already complete (train/ and test/, each with pos/ and neg/): nothing to do,
#      no network.
#   2. The archive at $IMDB_ARCHIVE if set, else ../shared/data/aclImdb_labeled.tar.gz next to
#      the repository (the project's labeled copy).
#   3. The official archive, downloaded with curl and checked against its sha256.
# Extraction goes into a temp folder inside DEST, is checked, then renamed into place, so an
# interrupted or corrupt run never leaves a DEST/aclImdb behind.
set -euo pipefail

readonly OFFICIAL_URL="https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
readonly OFFICIAL_SHA256="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="${1:-./data}"

die() { echo "get_imdb.sh: $*" >&2; exit 1; }

# complete DIR: true if DIR (an aclImdb folder) has both splits with both labels, each non-empty.
complete() {
  local dir="$1" split label
  for split in train test; do
    for label in pos neg; do
      [[ -d "$dir/$split/$label" ]] || return 1
      compgen -G "$dir/$split/$label/*.txt" > /dev/null || return 1
    done
  done
}

if complete "$dest/aclImdb"; then
  echo "get_imdb.sh: $dest/aclImdb is already there; nothing to do"
  exit 0
fi
[[ -e "$dest/aclImdb" ]] && die "$dest/aclImdb exists but is incomplete (needs train/ and test/ with pos/ and neg/); remove it and re-run"

mkdir -p "$dest" || die "cannot create $dest"
tmp="$(mktemp -d "$dest/.aclImdb.tmp.XXXXXX")" || die "cannot create a temp folder in $dest"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM   # so that the EXIT trap also cleans up after a signal

archive=""
if [[ -n "${IMDB_ARCHIVE:-}" && -f "${IMDB_ARCHIVE}" ]]; then
  archive="$IMDB_ARCHIVE"
elif [[ -f "$script_dir/../../shared/data/aclImdb_labeled.tar.gz" ]]; then
  archive="$(cd "$script_dir/../../shared/data" && pwd)/aclImdb_labeled.tar.gz"
else
  command -v curl > /dev/null || die "no local archive and no curl to download $OFFICIAL_URL"
  archive="$tmp/aclImdb_v1.tar.gz"
  echo "get_imdb.sh: downloading $OFFICIAL_URL"
  curl -fL --retry 3 -o "$archive" "$OFFICIAL_URL" || die "download failed: $OFFICIAL_URL"
  sum="$(sha256sum "$archive" | cut -d' ' -f1)"
  [[ "$sum" == "$OFFICIAL_SHA256" ]] || die "checksum mismatch for $OFFICIAL_URL: got $sum, want $OFFICIAL_SHA256"
fi

# Only the labeled reviews and the small metadata files; the official archive's train/unsup and
# *.feat files are skipped.
if ! tar -xzf "$archive" -C "$tmp" --wildcards \
      'aclImdb/train/pos/*' 'aclImdb/train/neg/*' 'aclImdb/test/pos/*' 'aclImdb/test/neg/*' \
      'aclImdb/README' 'aclImdb/imdb.vocab' 2> "$tmp/tar.err"; then
  die "corrupt or unreadable archive: $archive ($(tail -n 1 "$tmp/tar.err"))"
fi
complete "$tmp/aclImdb" || die "archive $archive does not hold aclImdb/{train,test}/{pos,neg}/*.txt"
rm -f "$tmp/aclImdb_v1.tar.gz"
# -T: never move into an existing DEST/aclImdb. If a concurrent run got there first with a
# complete copy, that copy is as good as ours.
if ! mv -T "$tmp/aclImdb" "$dest/aclImdb" 2> /dev/null; then
  complete "$dest/aclImdb" || die "cannot move the extracted copy to $dest/aclImdb"
  echo "get_imdb.sh: $dest/aclImdb was completed by another run meanwhile; nothing to do"
  exit 0
fi
count="$(find "$dest/aclImdb/train" "$dest/aclImdb/test" -name '*.txt' | wc -l)"
echo "get_imdb.sh: extracted $count reviews from $archive into $dest/aclImdb"
