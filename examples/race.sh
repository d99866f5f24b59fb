#!/bin/sh
# race.sh: the tutorial's race condition, and its two fixes, run for you.
#
# Starts upserver-thread three times, with --counter unsafe, mutex and
# atomic, sends ten clients at once to each, stops it and compares the
# number of requests served with the counter:
#
#   unsafe  the ten read the counter at the same time, so most updates are
#           lost (count far below 10), in about one delay;
#   mutex   the count is right, but the lock is held through the delay, so
#           the requests run one after another: about ten delays;
#   atomic  the count is right and the requests overlap: about one delay.
#
# Usage: examples/race.sh [DELAY]   (default 1s)
set -eu

bin=$(cd "$(dirname "$0")/../bin" && pwd)
delay=${1:-1s}
clients=10
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
			echo "race: the server did not start" >&2
			exit 1
		fi
		sleep 0.05
	done
	awk '$2 == "listening" { n = split($3, a, ":"); print a[n]; exit }' "$1"
}

# field KEY LOG: the value of KEY= on the "stopped" line of LOG.
field() {
	awk -v k="$2=" '$2 == "stopped" { for (i = 4; i <= NF; i++)
	    if (index($i, k) == 1) print substr($i, length(k) + 1) }' "$1"
}

# race MODE: one server, ten clients at once, one line of results.
race() {
	mode=$1
	log="$tmp/$mode.log"
	"$bin/upserver-thread" -p 0 -d "$delay" --counter "$mode" >"$log" &
	server=$!
	port=$(wait_listening "$log")
	start=$(date +%s.%N)
	pids=""
	i=1
	while [ "$i" -le "$clients" ]; do
		"$bin/upclient" -H 127.0.0.1 -p "$port" "client $i" \
		    >/dev/null &
		pids="$pids $!"
		i=$((i + 1))
	done
	for pid in $pids; do
		wait "$pid"
	done
	end=$(date +%s.%N)
	kill -TERM "$server"
	wait "$server"
	server=""
	requests=$(field "$log" requests)
	count=$(field "$log" count)
	if [ "$count" -lt "$requests" ]; then
		verdict="$((requests - count)) updates lost"
	else
		verdict="right"
	fi
	printf '%-8s %8s %6s %7.1f s   %s\n' "$mode" "$requests" "$count" \
	    "$(awk "BEGIN { print $end - $start }")" "$verdict"
}

echo "upserver-thread -d $delay, $clients clients at once, one request each"
printf '%-8s %8s %6s %9s\n' counter requests count time
for mode in unsafe mutex atomic; do
	race "$mode"
done
