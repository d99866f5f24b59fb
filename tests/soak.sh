#!/bin/sh
# soak.sh: 100 000 random requests over 100 connections against each
# server, every reply verified: 0 mismatches, 0 errors, or it fails.
#
# Usage: tests/soak.sh [MODEL ...]   (default: every server built)
# SOAK_REQUESTS (per connection, default 1000) and SOAK_CONNS (100) scale it.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${UP_BIN:-$top/bin}
conns=${SOAK_CONNS:-100}
per=${SOAK_REQUESTS:-1000}
tmp=$(mktemp -d)
server=""
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

if [ "$#" -eq 0 ]; then
	for m in seq fork thread poll; do
		[ -x "$bin/upserver-$m" ] && set -- "$@" "$m"
	done
fi

status=0
for m in "$@"; do
	log="$tmp/$m.log"
	# -c: seq serves one connection at a time, the others queue
	"$bin/upserver-$m" -p 0 -d 0 -q >"$log" &
	server=$!
	i=0
	until grep -q ' listening ' "$log"; do
		i=$((i + 1))
		[ "$i" -lt 200 ] || { echo "soak: $m did not start" >&2; exit 1; }
		sleep 0.05
	done
	port=$(awk '$2 == "listening" { n = split($3, a, ":"); print a[n]; exit }' "$log")
	printf 'soak %-6s %d connections x %d random requests: ' "$m" "$conns" "$per"
	if "$bin/upclient" -p "$port" -c "$conns" -n "$per" -r 200 --verify \
	    --timeout 30s -s 2>"$tmp/stats"; then
		awk '/^(requests|errors|requests_per_s):/ { printf "%s ", $0 } END { print "" }' \
		    "$tmp/stats"
	else
		echo "FAILED"
		cat "$tmp/stats" >&2
		status=1
	fi
	grep -q "^requests: $((conns * per))$" "$tmp/stats" || status=1
	grep -q '^errors: 0$' "$tmp/stats" || status=1
	kill -TERM "$server"
	wait "$server" || status=1
	server=""
	grep -q " stopped .* requests=$((conns * per))$" "$log" || {
		echo "soak: $m stopped with the wrong request count:" >&2
		tail -1 "$log" >&2
		status=1
	}
done
exit "$status"
