#!/usr/bin/env bash
# Fetches the public IP-to-ASN range dataset (npm package @ip-location-db/asn,
# CC BY 4.0, from RouteViews and DB-IP) into the git-ignored cache
# .local/ipdb/asn/ and prints that directory. The features/ipmatch tests read
# it through LEADSCORE_ASN_DIR, which defaults to this directory.
#
# Idempotent: when asn-ipv4.csv and asn-ipv6.csv are already there it only
# prints the directory. FORCE=1 fetches again (a newer release).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${LEADSCORE_ASN_DIR:-$root/.local/ipdb/asn}"
pkg="@ip-location-db/asn"

if [ "${FORCE:-0}" != 1 ] && [ -s "$dest/asn-ipv4.csv" ] && [ -s "$dest/asn-ipv6.csv" ]; then
  echo "$dest"
  exit 0
fi

command -v npm >/dev/null 2>&1 || { echo "fetch-asn: npm is needed (apt-get install npm)" >&2; exit 1; }

# Unpack next to the destination so the final moves are renames on one
# file system: a reader (a running engine polling the files) never sees a
# half-written file.
mkdir -p "$dest"
tmp="$(mktemp -d "$(dirname "$dest")/.fetch-asn.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "fetch-asn: fetching $pkg" >&2
tarball="$(cd "$tmp" && npm pack --silent "$pkg" | tail -n 1)"
tar -xzf "$tmp/$tarball" -C "$tmp"
for f in asn-ipv4.csv asn-ipv6.csv; do
  [ -s "$tmp/package/$f" ] || { echo "fetch-asn: $pkg has no $f" >&2; exit 1; }
done

# npm gives every file the same fixed date; stamp them with the fetch time
# so that the engine's size+mtime poll notices a new release.
touch "$tmp"/package/*
for f in "$tmp"/package/*; do
  mv -f "$f" "$dest/"
done
echo "$dest"
