#!/usr/bin/env bash
# Installs what `make run` and `make test` need, idempotently: Debian's
# ClickHouse server and client, kcat and npm (only when missing), the Go
# modules (a no-op when the module cache has them) and the public IP-to-ASN
# dataset (fetched once into .local/ipdb).
set -euo pipefail

need=()
[ -x /usr/sbin/clickhouse-server ] || need+=(clickhouse-server)
command -v clickhouse-client >/dev/null 2>&1 || need+=(clickhouse-client)
command -v kcat >/dev/null 2>&1 || need+=(kcat)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: missing ${need[*]} and no apt-get here; install them, or point LEADSCORE_CLICKHOUSE_ADDR at a ClickHouse server (see README)" >&2
    exit 1
  fi
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "deps: installing ${need[*]} with apt-get" >&2
  $SUDO apt-get update -qq
  # The package's post-install tries to start the service; it is refused in
  # containers and not wanted: leadscore starts its own server.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
go mod download
"$(dirname "$0")/fetch-asn.sh" >/dev/null
