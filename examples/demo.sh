#!/bin/sh
# demo.sh: the tutorial's first lesson, run for you.
#
# Starts each server model that is built on a free port with one second of
# simulated work per request, sends four clients at once (a, b, c, d, like
# the tutorial's four terminals), and prints the server's event log. The
# sequential server serves them one after another (about 4 s); a concurrent
# model accepts all four at once and answers them together (about 1 s).
#
# Usage: examples/demo.sh [MODEL ...]   (default: every model built)
set -eu

bin=$(cd "$(dirname "$0")/../bin" && pwd)
delay=1s
tmp=$(mktemp -d)
server=""
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_listening LOG: the port from the server's "listening" line.
wait_listening() {
	i=0
	while ! grep -q ' listening ' "$1" 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -gt 200 ]; then
			echo "demo: the server did not start" >&2
			exit 1
		fi
		sleep 0.05
	done
	awk '$2 == "listening" { n = split($3, a, ":"); print a[n]; exit }' "$1"
}

demo() {
	model=$1
	log="$tmp/$model.log"
	echo "== upserver-$model -d $delay, four clients at once"
	"$bin/upserver-$model" -p 0 -d "$delay" >"$log" &
	server=$!
	port=$(wait_listening "$log")
	start=$(date +%s.%N)
	pids=""
	for c in a b c d; do
		"$bin/upclient" -p "$port" "$c" >"$tmp/$c" &
		pids="$pids $!"
	done
	for pid in $pids; do
		wait "$pid"
	done
	end=$(date +%s.%N)
	kill -TERM "$server"
	wait "$server" || true
	server=""
	sed 's/^/   /' "$log"
	printf '   replies: %s %s %s %s; all four in %.1f s\n\n' \
	    "$(cat "$tmp/a")" "$(cat "$tmp/b")" "$(cat "$tmp/c")" \
	    "$(cat "$tmp/d")" "$(awk "BEGIN { print $end - $start }")"
}

if [ "$#" -eq 0 ]; then
	for m in seq fork thread poll; do
		[ -x "$bin/upserver-$m" ] && set -- "$@" "$m"
	done
fi
for m in "$@"; do
	demo "$m"
done
