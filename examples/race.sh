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
# First, the tutorial's own run: three curl at once against the threaded
# HTTP server with --counter unsafe. Its log shows both halves of the
# race, as the tutorial's prints do: three "received ... count=0" (the
# count each request read, "before count = 0") and three
# "responded ... count=1" (the count each wrote, "after count = 1").
# Without curl, upclient sends the three requests as lines instead.
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
	time_clients "$clients" thread -d "$delay" --counter "$mode"
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

# three MODE: the tutorial's three requests at once; prints the log's
# received and responded lines.
three() {
	if command -v curl >/dev/null 2>&1; then
		start_server thread --http -d "$delay" --counter unsafe
		echo "== upserver-thread --http -d $delay --counter unsafe," \
		    "three curl at once"
	else
		start_server thread -d "$delay" --counter unsafe
		echo "== upserver-thread -d $delay --counter unsafe," \
		    "three clients at once"
	fi
	for i in 1 2 3; do
		if command -v curl >/dev/null 2>&1; then
			together curl -s "http://127.0.0.1:$port/" >/dev/null
		else
			together "$bin/upclient" -H 127.0.0.1 -p "$port" "$i" \
			    >/dev/null
		fi
	done
	wait_together
	stop_server
	awk '$2 == "received" || $2 == "responded" || $2 == "stopped"' \
	    "$log" | sed 's/^/   /'
	echo
}

three
echo "== upserver-thread -d $delay, $clients clients at once, one request each"
printf '%-8s %8s %6s %9s\n' counter requests count time
for mode in unsafe mutex atomic; do
	race "$mode"
done
