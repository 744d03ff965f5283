#!/usr/bin/env bash
# Fetches libchdb.so, the ClickHouse engine chDB embeds as a shared library
# (npm package @chdb/lib-linux-x64-gnu, Apache-2.0, about 560 MB unpacked),
# into the git-ignored cache .local/chdb/ and prints the library's path. The
# test package deploy/clickhouse/chdb loads it through CHDB_LIB_PATH to run
# the migrations and every saved query on a current ClickHouse release, next
# to the 18.16 server the other tests use.
#
# Idempotent and fast when present: when .local/chdb/<version>/libchdb.so is
# there it only prints the path. CHDB_VERSION picks the release (default
# below); LEADSCORE_CHDB_DIR moves the cache.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${CHDB_VERSION:-26.5.3}"
cache="${LEADSCORE_CHDB_DIR:-$root/.local/chdb}"
dest="$cache/$version"
pkg="@chdb/lib-linux-x64-gnu@$version"

if [ -s "$dest/libchdb.so" ]; then
  echo "$dest/libchdb.so"
  exit 0
fi

case "$(uname -s)/$(uname -m)" in
Linux/x86_64) ;;
*)
  echo "fetch-chdb: $pkg is built for Linux x86-64 only, not $(uname -s)/$(uname -m)" >&2
  exit 1
  ;;
esac
command -v npm >/dev/null 2>&1 || { echo "fetch-chdb: npm is needed (apt-get install npm)" >&2; exit 1; }

# Unpack next to the destination so the final move is a rename on one file
# system: a test never loads a half-written library.
mkdir -p "$cache"
tmp="$(mktemp -d "$cache/.fetch-chdb.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "fetch-chdb: fetching $pkg (about 200 MB to download, 560 MB unpacked)" >&2
tarball="$(cd "$tmp" && npm pack --silent "$pkg" | tail -n 1)"
tar -xzf "$tmp/$tarball" -C "$tmp"
rm -f "$tmp/$tarball"
lib="$(find "$tmp/package" -name 'libchdb.so' -type f | head -n 1)"
[ -n "$lib" ] && [ -s "$lib" ] || { echo "fetch-chdb: $pkg has no libchdb.so" >&2; exit 1; }

mkdir -p "$tmp/out"
mv "$lib" "$tmp/out/libchdb.so"
rm -rf "$dest"
mv "$tmp/out" "$dest"
echo "$dest/libchdb.so"
