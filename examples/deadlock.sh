#!/bin/sh
# deadlock.sh: the two cooks of the tutorials' kitchen, and the fixes.
#
# Every request takes the cutting board and the sink (--locks), with its
# work between the first and the second. Run for you:
#
#   opposite  upserver-thread, then upserver-fork: two clients at once,
#             one request taking the board first, the other the sink
#             first. Neither is answered (the clients give up after three
#             delays); the log's "deadlock" line says who holds what and
#             waits for what; a SIGTERM still stops the server, and the
#             two requests are closed unanswered, reason=deadlock.
#   ordered   every request takes the board first: four clients, all
#             answered, one after another (about four delays).
#   backoff   a request that finds its second resource taken puts the
#             first down, waits a moment and tries again: all answered,
#             and the log counts the retries.
#
# Usage: examples/deadlock.sh [DELAY]   (default 1s)
set -eu

# shellcheck source=examples/common.sh
. "$(dirname "$0")/common.sh"
delay=${1:-1s}
# the clients' patience: three delays, in the servers' units
patience=$(awk -v d="$delay" 'BEGIN { s = d + 0
	if (d ~ /ms$/) s /= 1000; printf "%.3f", 3 * s }')

# show EVENT...: the log's lines of those events, indented.
show() {
	awk -v e=" $* " 'index(e, " " $2 " ")' "$log" | sed 's/^/   /'
}

# hang MODEL: two opposite requests at once on MODEL --locks opposite.
hang() {
	echo "== upserver-$1 -d $delay --locks opposite, two clients at once"
	start_server "$1" -d "$delay" --locks opposite
	pids=""
	for cook in carrots dishes; do
		"$bin/upclient" -H 127.0.0.1 -p "$port" --timeout "$patience" \
		    "$cook" >/dev/null 2>"$tmp/$cook.err" &
		pids="$pids $!"
		track "$!"
	done
	answered=0
	for pid in $pids; do
		if wait "$pid"; then
			answered=$((answered + 1))
		fi
	done
	echo "   replies after ${patience}s: $answered of 2"
	show received deadlock
	stop_server
	echo "   after SIGTERM:"
	show draining closed stopped
	echo
}

# fix MODE: four clients at once on upserver-thread --locks MODE.
fix() {
	start_server thread -d "$delay" --locks "$1"
	start=$(now)
	if "$bin/upclient" -H 127.0.0.1 -p "$port" -c 4 --verify \
	    --timeout 30s cook >/dev/null 2>"$tmp/fix.err"; then
		verdict="all answered"
	else
		verdict="NOT all answered"
	fi
	took=$(elapsed "$start")
	stop_server
	retries=$(awk '$2 == "responded" { for (i = 4; i <= NF; i++)
	    if ($i ~ /^retries=/) s += substr($i, 9) } END { print s + 0 }' \
	    "$log")
	printf '%-9s %9s %6s s %8s   %s\n' "$1" "$(stopped_field requests)" \
	    "$took" "$retries" "$verdict"
}

hang thread
hang fork
echo "== the fixes: upserver-thread -d $delay, four clients at once"
printf '%-9s %9s %8s %8s\n' locks requests time retries
fix ordered
fix backoff
