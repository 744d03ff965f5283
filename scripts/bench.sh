#!/usr/bin/env bash
# bench.sh [-quick] [leadbench flags...]: the benchmark harness of issue 8,
# what `make bench` (full, under ten minutes on two cores) and
# `make bench-quick` (under a minute) run.
#
#   1. the per-stage microbenchmarks next to the code
#      (go test -run '^$' -bench '^BenchmarkStage' -benchmem), their output
#      kept in .local/bench/stages.txt;
#   2. bench/cmd/leadbench, built into .local/bench/bin: the end-to-end runs
#      (engine and baseline as child processes, kfake, a private ClickHouse
#      with Null tables), which write bench/RESULTS.md with the stage table.
#
# The full run writes bench/RESULTS.md (committed); the quick one writes
# .local/bench/RESULTS-quick.md unless -out is given. Extra flags go to
# leadbench (-events N, -seed N, -flush-interval D, -cpuprofile 10s, -out F).
# Needs Go and clickhouse-server (scripts/deps.sh installs it), or
# LEADSCORE_CLICKHOUSE_ADDR pointing at a server.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
GO=${GO:-go}

quick=
out=bench/RESULTS.md
benchtime=1s
args=()
while (($#)); do
	case $1 in
	-quick | --quick)
		quick=-quick
		out=.local/bench/RESULTS-quick.md
		benchtime=50ms
		;;
	-out | --out)
		out=$2
		shift
		;;
	*) args+=("$1") ;;
	esac
	shift
done

mkdir -p .local/bench/bin
stages=.local/bench/stages.txt
# The packages that hold BenchmarkStage* (a package without one runs none).
pkgs=(./internal/event ./scorer ./features/... ./sinks ./pipeline)
echo "bench: per-stage microbenchmarks (-benchtime $benchtime)" >&2
if ! $GO test -run '^$' -bench '^BenchmarkStage' -benchmem -benchtime "$benchtime" -count 1 "${pkgs[@]}" >"$stages" 2>&1; then
	echo "bench: some stage benchmarks failed; the table keeps those that ran (see $stages)" >&2
fi
grep -E '^Benchmark' "$stages" >&2 || true

$GO build -o .local/bench/bin/leadbench ./bench/cmd/leadbench
exec .local/bench/bin/leadbench $quick -root "$root" -out "$out" -stages "$stages" "${args[@]+"${args[@]}"}"
