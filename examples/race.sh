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

# shellcheck source=examples/common.sh
. "$(dirname "$0")/common.sh"
delay=${1:-1s}
clients=10

# race MODE: one server, ten clients at once, one line of results.
race() {
	mode=$1
	start_server thread -d "$delay" --counter "$mode"
	start=$(now)
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
	took=$(elapsed "$start")
	stop_server
	requests=$(stopped_field requests)
	count=$(stopped_field count)
	if [ "$count" -lt "$requests" ]; then
		verdict="$((requests - count)) updates lost"
	else
		verdict="right"
	fi
	printf '%-8s %8s %6s %7s s   %s\n' "$mode" "$requests" "$count" \
	    "$took" "$verdict"
}

echo "upserver-thread -d $delay, $clients clients at once, one request each"
printf '%-8s %8s %6s %9s\n' counter requests count time
for mode in unsafe mutex atomic; do
	race "$mode"
done
