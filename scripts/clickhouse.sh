#!/usr/bin/env bash
# clickhouse.sh {ensure|start|stop|status}: a private ClickHouse server for
# `make run` and `make test` on a Debian machine.
#
#   ensure  install Debian's clickhouse-server and clickhouse-client with
#           apt-get, only when /usr/sbin/clickhouse-server is missing
#   start   start the server in the background unless it already runs: data,
#           logs and temporary files under .local/clickhouse/ (git-ignored),
#           listening on 127.0.0.1 only; waits until it answers
#   stop    stop the server this script started (the PID in
#           .local/clickhouse/server.pid), nothing else
#   status  tell whether it runs; exit status 0 when it does, 1 when not
#
# Environment: CLICKHOUSE_PORT (native protocol, default 9000),
# CLICKHOUSE_HTTP_PORT (default 8123), CLICKHOUSE_DIR (default
# <repo>/.local/clickhouse), CLICKHOUSE_SERVER (default
# /usr/sbin/clickhouse-server), CLICKHOUSE_CLIENT (default clickhouse-client).
#
# The configuration is rendered from deploy/clickhouse/local/*.xml, the same
# templates the Go test helper internal/chtest uses.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${CLICKHOUSE_DIR:-$root/.local/clickhouse}
port=${CLICKHOUSE_PORT:-9000}
http_port=${CLICKHOUSE_HTTP_PORT:-8123}
server_bin=${CLICKHOUSE_SERVER:-/usr/sbin/clickhouse-server}
client_bin=${CLICKHOUSE_CLIENT:-clickhouse-client}
templates=$root/deploy/clickhouse/local
pidfile=$dir/server.pid
ready_timeout=30 # seconds

log() { printf 'clickhouse: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# running_pid prints the PID of the server this script started, when it
# runs. A PID file whose process is gone or is something else (the PID was
# reused) does not count.
running_pid() {
	[[ -f $pidfile ]] || return 1
	local pid
	pid=$(<"$pidfile")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	ps -o args= -p "$pid" 2>/dev/null | grep -qF -- "--config-file=$dir/config.xml" || return 1
	echo "$pid"
}

answers() {
	"$client_bin" --host 127.0.0.1 --port "$port" --query 'SELECT 1' >/dev/null 2>&1
}

log_tail() {
	local f
	for f in "$dir/log/stdout.log" "$dir/log/clickhouse-server.err.log"; do
		[[ -s $f ]] || continue
		echo "--- $f (last 30 lines)" >&2
		tail -n 30 "$f" >&2
	done
}

# render writes a template with the placeholders replaced.
render() {
	local esc
	esc=$(printf '%s' "$dir" | sed 's/[\\|&]/\\&/g')
	sed -e "s|@DIR@|$esc|g" -e "s|@TCP_PORT@|$port|g" -e "s|@HTTP_PORT@|$http_port|g" "$1" >"$2"
}

cmd_ensure() {
	if [[ -x /usr/sbin/clickhouse-server ]]; then
		log "clickhouse-server is installed"
		return
	fi
	local sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null || die "not root and no sudo: install clickhouse-server and clickhouse-client yourself"
		sudo=(sudo)
	fi
	log "installing Debian's clickhouse-server and clickhouse-client"
	"${sudo[@]}" apt-get update
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		clickhouse-server clickhouse-client
}

cmd_start() {
	local pid
	if pid=$(running_pid); then
		log "already running (pid $pid)"
		return
	fi
	[[ -x $server_bin ]] || die "$server_bin not found: run $0 ensure"
	command -v "$client_bin" >/dev/null || die "$client_bin not found: run $0 ensure"
	if answers; then
		die "another server already answers on 127.0.0.1:$port: stop it or set CLICKHOUSE_PORT"
	fi

	mkdir -p "$dir"/{data,tmp,log,user_files,format_schemas}
	render "$templates/config.xml" "$dir/config.xml"
	render "$templates/users.xml" "$dir/users.xml"

	# A session of its own, so ^C on `make run` does not stop it; setsid
	# and nohup exec the server, so $! is the server's PID.
	local detach=(nohup)
	command -v setsid >/dev/null && detach=(setsid)
	"${detach[@]}" "$server_bin" --config-file="$dir/config.xml" \
		>>"$dir/log/stdout.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$pidfile"

	local deadline=$((SECONDS + ready_timeout))
	until answers; do
		if ! kill -0 "$pid" 2>/dev/null; then
			rm -f "$pidfile"
			log "server exited during startup"
			log_tail
			exit 1
		fi
		if ((SECONDS >= deadline)); then
			log "server did not answer within ${ready_timeout}s; stopping it"
			log_tail
			kill "$pid" 2>/dev/null || true
			rm -f "$pidfile"
			exit 1
		fi
		sleep 0.2
	done
	log "running (pid $pid, native 127.0.0.1:$port, http 127.0.0.1:$http_port, data in $dir)"
}

cmd_stop() {
	local pid
	if ! pid=$(running_pid); then
		log "not running"
		rm -f "$pidfile"
		return
	fi
	kill "$pid"
	local deadline=$((SECONDS + 30))
	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			log "pid $pid still running after 30s: killing it"
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.2
	done
	rm -f "$pidfile"
	log "stopped (pid $pid)"
}

cmd_status() {
	local pid
	if pid=$(running_pid); then
		local ports
		ports=$(grep -oE '<(tcp|http)_port>[0-9]+' "$dir/config.xml" | sed 's/<//; s/>/ /' | tr '\n' ' ')
		echo "clickhouse: running (pid $pid; ${ports% }; data in $dir)"
		return 0
	fi
	echo "clickhouse: not running"
	return 1
}

case ${1:-} in
ensure) cmd_ensure ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*)
	echo "usage: $0 {ensure|start|stop|status}" >&2
	exit 2
	;;
esac
